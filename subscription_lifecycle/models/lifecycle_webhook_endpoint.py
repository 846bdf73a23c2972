import uuid
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib.webhook_inbound import parse_custom_types
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

    # incoming endpoints
    inbound_url = fields.Char(
        string="URL to call", compute="_compute_inbound_url", help="Where the other system posts its signed events."
    )
    custom_event_types = fields.Char(
        string="Custom event types",
        help="Types the other system may send besides the standard ones, separated by commas, e.g. "
        "trial.started, ticket_opened. Each becomes a Custom event about the customer, which starts the "
        "workflows whose trigger is Custom event with that type.",
    )
    inbound_ids = fields.One2many("lifecycle.webhook.inbound", "endpoint_id", string="Calls received", readonly=True)

    _uuid_unique = models.Constraint("UNIQUE(uuid)", "Two endpoints cannot share an identifier.")

    @api.depends("uuid")
    def _compute_inbound_url(self):
        for endpoint in self:
            endpoint.inbound_url = f"{endpoint.get_base_url()}/lifecycle/webhook/{endpoint.uuid}"

    @api.constrains("custom_event_types")
    def _check_custom_event_types(self):
        for endpoint in self:
            try:
                parse_custom_types(endpoint.custom_event_types)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "These are not custom event types: %(names)s. Use lower-case letters, digits, "
                        '"_", "." and "-", starting with a letter, and none of the standard types.',
                        names=error.args[0],
                    )
                ) from error

    def _custom_types(self):
        self.ensure_one()
        return parse_custom_types(self.custom_event_types)

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
