from odoo import fields, models


class LifecycleWorkflowRunLog(models.Model):
    """What one step of a run did, and when."""

    _name = "lifecycle.workflow.run.log"
    _description = "Workflow run log"
    _order = "id"

    run_id = fields.Many2one("lifecycle.workflow.run", required=True, index=True, ondelete="cascade", readonly=True)
    step_id = fields.Many2one("lifecycle.workflow.step", readonly=True, ondelete="set null")
    date = fields.Datetime(default=fields.Datetime.now, required=True, readonly=True)
    outcome = fields.Selection(
        [("next", "Done"), ("wait", "Waiting"), ("stop", "Stopped"), ("error", "Failed"), ("info", "Note")],
        required=True,
        readonly=True,
    )
    message = fields.Text(readonly=True)
