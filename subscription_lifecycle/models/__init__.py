from . import lifecycle_reference_mixin
from . import lifecycle_origin
from . import lifecycle_institution
