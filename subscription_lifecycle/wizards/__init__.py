from . import lifecycle_deadline_report
