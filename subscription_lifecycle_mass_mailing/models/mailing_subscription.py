from odoo import fields, models


class MailingSubscription(models.Model):
    _inherit = "mailing.subscription"

    lifecycle_removed = fields.Boolean(
        string="Removed by a workflow",
        readonly=True,
        copy=False,
        help="Opted out by a lifecycle workflow, not by the person: a workflow may subscribe them again.",
    )

    def write(self, vals):
        # Whoever changes the opt-out decides who opted out: only a workflow's
        # remove step (its context key) marks the subscription as its own.
        if "opt_out" in vals:
            removed = bool(vals["opt_out"]) and bool(self.env.context.get("lifecycle_list_remove"))
            vals = {**vals, "lifecycle_removed": removed}
        return super().write(vals)
