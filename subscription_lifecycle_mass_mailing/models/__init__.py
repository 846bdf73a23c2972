from . import lifecycle_workflow_step
from . import mailing_subscription
