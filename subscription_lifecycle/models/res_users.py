from odoo import api, models
from odoo.tools import SQL


class ResUsers(models.Model):
    _inherit = "res.users"

    def _create_user_from_template(self, values):
        """A portal signup (or granted portal access) registers a customer."""
        user = super()._create_user_from_template(values)
        # in the company they registered with: a new customer has no company of their own
        self.env["lifecycle.event"]._emit("customer_registered", user.partner_id, company_id=user.company_id.id)
        return user

    def _action_reset_password(self, signup_type="reset"):
        """A portal user asked for a new password (login page, or staff for them): the reset email is sent.

        Only what identifies the user goes in the event: never the signup
        token, which would open their account to whoever reads the event.
        """
        result = super()._action_reset_password(signup_type=signup_type)
        if signup_type == "reset":
            self._lifecycle_emit("password_reset_requested")
        return result

    def write(self, vals):
        # Only a password that replaces another is a change: setting the first
        # one (accepting a portal invitation) is part of registering, and the
        # empty one of a deleted account is no password at all.
        changed = self._lifecycle_with_password() if vals.get("password") else self.browse()
        result = super().write(vals)
        changed._lifecycle_emit("password_changed")
        return result

    @api.model
    def _update_last_login(self):
        """A portal user's first login completes their registration."""
        user = self.env.user
        first = user.share and not user.login_date
        result = super()._update_last_login()
        if first:
            user._lifecycle_emit("registration_completed")
        return result

    def _lifecycle_with_password(self):
        """These users that are portal users and have a password (which the ORM never reads back)."""
        self.flush_recordset(["share"])
        self.env.cr.execute(
            SQL("SELECT id FROM res_users WHERE id = ANY(%s) AND share AND password IS NOT NULL", self.ids)
        )
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    def _lifecycle_emit(self, event_type):
        """Emit ``event_type`` about the customer of each of these users that is a portal user.

        Internal users are staff, not customers: their passwords and logins
        are no lifecycle event, and no webhook should hear about them.
        """
        portal = self.sudo().filtered("share")
        self.env["lifecycle.event"]._emit_each(
            event_type,
            [
                (
                    user.partner_id,
                    {"company_id": user.company_id.id, "payload": {"user_id": user.id, "login": user.login}},
                )
                for user in portal
            ],
        )
