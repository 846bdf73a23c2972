from . import lifecycle_deadline_report
from . import lifecycle_workflow_preview
from . import lifecycle_wallet_adjust
