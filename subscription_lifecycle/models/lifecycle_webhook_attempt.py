from odoo import fields, models


class LifecycleWebhookAttempt(models.Model):
    """One try at sending a delivery: when, what the receiver answered, how fast. Written by the sender only."""

    _name = "lifecycle.webhook.attempt"
    _description = "Webhook delivery attempt"
    _order = "id desc"

    delivery_id = fields.Many2one(
        "lifecycle.webhook.delivery", required=True, readonly=True, index=True, ondelete="cascade"
    )
    endpoint_id = fields.Many2one(related="delivery_id.endpoint_id")
    date = fields.Datetime(string="When", required=True, readonly=True)
    status_code = fields.Integer(string="Status", readonly=True, help="0 when no answer came.")
    latency_ms = fields.Integer(string="Latency (ms)", readonly=True)
    response = fields.Text(readonly=True, help="The first 2 KB of the answer.")
    error = fields.Char(readonly=True)
    success = fields.Boolean(compute="_compute_success")

    def _compute_success(self):
        for attempt in self:
            attempt.success = 200 <= attempt.status_code < 300
