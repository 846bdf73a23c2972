from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import email_normalize

from odoo.addons.subscription_lifecycle.models.lifecycle_workflow_step import NEXT


class LifecycleWorkflowStep(models.Model):
    """Mailing list steps: the customer's email as a mailing contact of a list, or unsubscribed from it.

    The email is the customer's own (the deadline's customer, who receives
    its reminders). A contact with that address is reused, as Odoo's
    subscription pages do; the subscription changes through Odoo's
    ``mailing.list._update_subscription_from_email``, which notes each change
    on the contact.
    """

    _inherit = "lifecycle.workflow.step"

    step_type = fields.Selection(
        selection_add=[("list_add", "Add to a mailing list"), ("list_remove", "Remove from a mailing list")],
        # a list step cannot run without Email Marketing
        ondelete={"list_add": "cascade", "list_remove": "cascade"},
    )
    mailing_list_id = fields.Many2one("mailing.list", string="Mailing list", ondelete="restrict")

    @api.constrains("step_type", "mailing_list_id")
    def _check_mailing_list(self):
        for step in self:
            if step.step_type in ("list_add", "list_remove") and not step.mailing_list_id:
                raise ValidationError(
                    self.env._(
                        "The step %(step)s of %(workflow)s needs a mailing list.",
                        step=step.name,
                        workflow=step.workflow_id.name,
                    )
                )

    def _list_subscriptions(self, email):
        """The subscriptions of the contacts with ``email`` (archived ones too) to the step's list."""
        contacts = (
            self.env["mailing.contact"].with_context(active_test=False).search([("email_normalized", "=", email)])
        )
        return contacts, contacts.subscription_ids.filtered(lambda sub: sub.list_id == self.mailing_list_id)

    def _run_list_add(self, run, record, now):
        """Subscribe the customer's email to the list, unless they opted out of it themselves.

        An opt-out made by the person (the unsubscribe link) or by staff
        stands: a workflow only undoes its own removals.
        """
        customer = self._customer(record)
        email = email_normalize(customer.email)
        mailing_list = self.mailing_list_id
        if not email:
            return NEXT, self._no_email(customer), None
        contacts, subscriptions = self._list_subscriptions(email)
        refused = subscriptions.filtered(lambda sub: sub.opt_out and not sub.lifecycle_removed)
        if refused:
            return (
                NEXT,
                self.env._(
                    "%(email)s unsubscribed from %(list)s on %(date)s: not subscribed again.",
                    email=email,
                    list=mailing_list.name,
                    date=fields.Date.to_string(refused[0].opt_out_datetime),
                ),
                None,
            )
        if subscriptions and not subscriptions.filtered("opt_out"):
            return NEXT, self.env._("%(email)s is already on %(list)s.", email=email, list=mailing_list.name), None
        if not contacts:
            self.env["mailing.contact"].create({"name": customer.name, "email": customer.email})
        mailing_list._update_subscription_from_email(email, opt_out=False)
        return NEXT, self.env._("%(email)s added to %(list)s.", email=email, list=mailing_list.name), None

    def _run_list_remove(self, run, record, now):
        customer = self._customer(record)
        email = email_normalize(customer.email)
        mailing_list = self.mailing_list_id
        if not email:
            return NEXT, self._no_email(customer), None
        if not self._list_subscriptions(email)[1].filtered(lambda sub: not sub.opt_out):
            return NEXT, self.env._("%(email)s is not on %(list)s.", email=email, list=mailing_list.name), None
        mailing_list.with_context(lifecycle_list_remove=True)._update_subscription_from_email(email, opt_out=True)
        return NEXT, self.env._("%(email)s removed from %(list)s.", email=email, list=mailing_list.name), None

    def _no_email(self, customer):
        return self.env._(
            "%(customer)s has no valid email address: %(list)s unchanged.",
            customer=customer.name,
            list=self.mailing_list_id.name,
        )
