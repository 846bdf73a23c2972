from odoo import fields, models


class MailActivity(models.Model):
    _inherit = "mail.activity"

    def _action_done(self, feedback=False, attachment_ids=None):
        """Completing a callback stamps the customer's callback date."""
        callback_type = self.env.ref("subscription_lifecycle.mail_activity_type_callback", raise_if_not_found=False)
        callbacks = self.filtered(lambda activity: activity.activity_type_id == callback_type)
        partners = self.env["res.partner"]
        for activity in callbacks:
            if activity.res_model == "res.partner":
                partners |= self.env["res.partner"].browse(activity.res_id)
            elif activity.res_model == "lifecycle.deadline":
                partners |= self.env["lifecycle.deadline"].sudo().browse(activity.res_id).partner_id
        result = super()._action_done(feedback=feedback, attachment_ids=attachment_ids)
        if partners:
            # sudo: marking one's own activity done is allowed without write
            # access to the customer; the stamp is bookkeeping of that act.
            (partners | partners.commercial_partner_id).sudo().write(
                {"lifecycle_callback_date": fields.Date.context_today(self)}
            )
        return result
