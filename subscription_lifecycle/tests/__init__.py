from . import test_install
from . import test_access
from . import test_duration
from . import test_deadline
from . import test_sale
from . import test_partner
from . import test_report
from . import test_ui
