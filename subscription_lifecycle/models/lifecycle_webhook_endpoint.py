import json
import uuid
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools import SQL, ormcache

from ..lib.webhook_delivery import ReservedHeaderError, check_url, parse_headers, template_texts
from ..lib.webhook_inbound import parse_custom_types
from ..lib.webhook_signature import new_secret

# After a rotation the old secret keeps signing (outgoing) and being accepted
# (incoming) this long, so the receiver can switch without losing a message.
ROTATION_OVERLAP = timedelta(hours=24)
# An outgoing endpoint that has failed every delivery for this long is switched off.
FAILING_LIMIT = timedelta(days=5)
# The fields that decide which events an endpoint is subscribed to (see ``_subscribed_event_types``).
SUBSCRIPTION_FIELDS = frozenset({"active", "direction", "event_type_ids", "company_id"})


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

    # outgoing
    url = fields.Char(
        string="URL", tracking=True, help="Where deliveries are POSTed: https, unless the settings allow http."
    )
    event_type_ids = fields.Many2many(
        "ir.model.fields.selection",
        "lifecycle_webhook_endpoint_event_type_rel",
        "endpoint_id",
        "selection_id",
        string="Subscribed events",
        # by the field's id: a path through field_id would search ir.model.fields, which managers may not read
        domain=lambda self: [("field_id", "=", self.env["ir.model.fields"]._get("lifecycle.event", "event_type").id)],
        help="Every event of these types is delivered, without any workflow. "
        "A workflow's Send webhook step delivers the events it is run for.",
    )
    payload_style = fields.Selection(
        [("full", "Full: the customer, the deadline and the event"), ("thin", "Thin: ids and type only")],
        default="full",
        required=True,
        help="Thin payloads carry no personal data: the receiver reads what it needs through the API.",
    )
    body_template = fields.Text(
        help='Optional JSON sent instead of the standard body, e.g. {"text": "{{ object.name }}"} for Slack. '
        "Its texts are templates on the delivery (object.event_id, object.partner_id, object.endpoint_id).",
    )
    custom_headers = fields.Text(
        help="One 'Name: value' per line, sent with every delivery. The signature headers and Content-Type are ours.",
    )
    failing_since = fields.Datetime(
        readonly=True, copy=False, help="Every delivery has failed since then; after 5 days the endpoint is disabled."
    )
    delivery_ids = fields.One2many("lifecycle.webhook.delivery", "endpoint_id", string="Deliveries")
    delivery_count = fields.Integer(compute="_compute_delivery_counts")
    failed_delivery_count = fields.Integer(compute="_compute_delivery_counts")

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

    @api.depends("delivery_ids.state")
    def _compute_delivery_counts(self):
        counts = {
            (endpoint.id, state): count
            for endpoint, state, count in self.env["lifecycle.webhook.delivery"]._read_group(
                [("endpoint_id", "in", self.ids)], ["endpoint_id", "state"], ["__count"]
            )
        }
        for endpoint in self:
            endpoint.delivery_count = sum(count for (key, _state), count in counts.items() if key == endpoint.id)
            endpoint.failed_delivery_count = counts.get((endpoint.id, "failed"), 0)

    @api.constrains("direction", "url", "company_id")
    def _check_url(self):
        for endpoint in self.filtered(lambda endpoint: endpoint.direction == "outbound"):
            try:
                check_url(endpoint.url, endpoint.company_id.lifecycle_webhook_allow_http)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "%(url)s is not a URL deliveries can go to: give an https:// address "
                        "(http:// only where the settings allow it).",
                        url=endpoint.url or "",
                    )
                ) from error

    @api.constrains("custom_headers")
    def _check_custom_headers(self):
        for endpoint in self:
            try:
                parse_headers(endpoint.custom_headers)
            except ReservedHeaderError as error:
                raise ValidationError(
                    self.env._("%(header)s is set by the sender itself and cannot be replaced.", header=error.args[0])
                ) from error
            except ValueError as error:
                raise ValidationError(
                    self.env._("Write one header per line as Name: value, not %(line)s.", line=error.args[0])
                ) from error

    @api.constrains("body_template")
    def _check_body_template(self):
        for endpoint in self.filtered("body_template"):
            try:
                json.loads(endpoint.body_template)
            except ValueError as error:
                raise ValidationError(self.env._("The body template must be JSON: %(error)s", error=error)) from error

    def _check_body_template_editor(self):
        """Refuse a body template beyond plain field paths unless the user may write such templates.

        As for mail templates (``mail.render.mixin``): the sender renders
        the template as superuser, so whoever writes it must be trusted
        with code, unless it only reads fields such as object.partner_id.name.
        Checked in create and write: constraints run as superuser.
        """
        if self.env.su or self.env.user.has_group("mail.group_mail_template_editor"):
            return
        render = self.env["mail.render.mixin"]
        for endpoint in self.filtered("body_template"):
            texts = template_texts(json.loads(endpoint.body_template))
            if any(
                render._has_unsafe_expression_template_inline_template(text, "lifecycle.webhook.delivery")
                for text in texts
            ):
                raise AccessError(
                    self.env._(
                        "Only template editors may write expressions beyond plain fields in a body template: "
                        "use {{ object.partner_id.name }} and the like."
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        endpoints = super().create(vals_list)
        endpoints._check_body_template_editor()
        self.env.registry.clear_cache()  # the subscriptions may have changed
        return endpoints

    def write(self, vals):
        result = super().write(vals)
        if "body_template" in vals:
            self._check_body_template_editor()
        if vals.keys() & SUBSCRIPTION_FIELDS:
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    @api.model
    @ormcache()
    def _subscribed_event_types(self):
        """The event types some active outgoing endpoint subscribes to, cached: most events have none."""
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT DISTINCT selection.value
                  FROM lifecycle_webhook_endpoint_event_type_rel rel
                  JOIN lifecycle_webhook_endpoint endpoint ON endpoint.id = rel.endpoint_id
                  JOIN ir_model_fields_selection selection ON selection.id = rel.selection_id
                 WHERE endpoint.active AND endpoint.direction = 'outbound'
                """
            )
        )
        return frozenset(value for (value,) in self.env.cr.fetchall())

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

    def action_send_test(self):
        """Queue a test delivery to each endpoint; the sender sends it after this transaction commits."""
        self.ensure_one()
        self.env["lifecycle.webhook.delivery"]._create_test(self)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "info",
                "message": self.env._("Test event queued: it leaves in a moment."),
                "next": self._deliveries_action(),
            },
        }

    def action_view_deliveries(self):
        return self._deliveries_action()

    def action_view_failed_deliveries(self):
        return self._deliveries_action(failed=True)

    def _deliveries_action(self, failed=False):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_lifecycle.lifecycle_webhook_delivery_action"
        )
        action["domain"] = [("endpoint_id", "=", self.id)] + ([("state", "=", "failed")] if failed else [])
        action["context"] = {}
        return action

    @api.model
    def _record_health(self, succeeded, failing, gone, now):
        """Note how the endpoints (ids) answered at ``now``; disable those gone or failing for 5 days."""
        self.browse(succeeded).write({"failing_since": False})
        failing = self.browse(failing - succeeded - gone)
        failing.filtered(lambda endpoint: not endpoint.failing_since).write({"failing_since": now})
        self.browse(gone)._disable(self.env._("The receiver answered 410 Gone: the endpoint was disabled at once."))
        failing.filtered(lambda endpoint: endpoint.failing_since <= now - FAILING_LIMIT)._disable(
            self.env._("Every delivery has failed for 5 days: the endpoint was disabled.")
        )

    def _disable(self, reason):
        """Switch these endpoints off, say why in their chatter, and tell their owners by activity and email."""
        template = self.env.ref("subscription_lifecycle.mail_template_webhook_endpoint_disabled")
        for endpoint in self.filtered("active"):
            endpoint.active = False
            endpoint.message_post(body=reason)
            owner = endpoint.user_id or self.env.user
            endpoint.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Webhook endpoint disabled"),
                note=reason,
                user_id=owner.id,
            )
            template.with_context(lifecycle_reason=reason).send_mail(endpoint.id)
