import uuid
from datetime import timedelta

from odoo import fields, models

from ..lib.webhook_signature import new_secret

# After a rotation the old secret keeps signing (outgoing) and being accepted
# (incoming) this long, so the receiver can switch without losing a message.
ROTATION_OVERLAP = timedelta(hours=24)


class LifecycleWebhookEndpoint(models.Model):
    """Where lifecycle events leave for another system, or come in from one.

    An outgoing endpoint receives signed deliveries (Standard Webhooks); an
    incoming one is a URL of this database that accepts signed events. Both
    sign with the endpoint's secret. Managers only: the secret lets whoever
    holds it speak for the company.
    """

    _name = "lifecycle.webhook.endpoint"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Webhook endpoint"
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    user_id = fields.Many2one(
        "res.users",
        string="Owner",
        default=lambda self: self.env.user,
        tracking=True,
        help="Who hears about it when the endpoint is disabled.",
    )
    direction = fields.Selection(
        [("outbound", "Outgoing"), ("inbound", "Incoming")], required=True, default="outbound", tracking=True
    )
    uuid = fields.Char(
        string="Identifier", required=True, readonly=True, copy=False, default=lambda self: str(uuid.uuid4())
    )
    secret = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: new_secret(),
        help="Signs every message (HMAC-SHA256, Standard Webhooks). Give it to the other side; rotate it if it leaks.",
    )
    previous_secret = fields.Char(readonly=True, copy=False)
    previous_secret_until = fields.Datetime(
        string="Previous secret valid until", readonly=True, copy=False, help="The old secret still signs until then."
    )

    _uuid_unique = models.Constraint("UNIQUE(uuid)", "Two endpoints cannot share an identifier.")

    def action_rotate_secret(self):
        """A new secret; the current one goes on signing for 24 hours beside it."""
        until = fields.Datetime.now() + ROTATION_OVERLAP
        for endpoint in self:
            endpoint.write({"previous_secret": endpoint.secret, "previous_secret_until": until, "secret": new_secret()})
            endpoint.message_post(
                body=self.env._(
                    "Secret rotated: the previous one stays valid until %(until)s.",
                    until=fields.Datetime.to_string(until),
                )
            )

    def _signing_secrets(self, now):
        """The secrets that sign at ``now``: the endpoint's own, and its previous one during the overlap."""
        self.ensure_one()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and self.previous_secret_until > now:
            secrets.append(self.previous_secret)
        return secrets
