import re
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.lifecycle_deadline import LAPSE_CATCH_UP_DAYS
from .common import LifecycleCommon
from .test_engine import NOW, EngineCommon

NEW_EVENTS = (
    "password_reset_requested",
    "password_changed",
    "registration_completed",
    "customer_deleted",
    "no_active_service",
)


def _events(env, event_type, partner=None):
    domain = [("event_type", "=", event_type)]
    if partner is not None:
        domain.append(("partner_id", "=", partner.id))
    return env["lifecycle.event"].search(domain)


@tagged("post_install", "-at_install")
class TestAccountEvents(LifecycleCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("auth_signup.reset_password", "True")
        cls.portal = new_test_user(
            cls.env, login="ann_portal", groups="base.group_portal", name="Ann Portal", email="ann@example.com"
        )

    def _csrf(self, url):
        return re.search(r'name="csrf_token" value="([^"]+)"', self.url_open(url).text).group(1)

    def test_a_reset_asked_on_the_login_page_is_announced_without_its_token_and_its_completion_changes_the_password(
        self,
    ):
        response = self.url_open(
            "/web/reset_password", data={"login": "ann_portal", "csrf_token": self._csrf("/web/reset_password")}
        )
        self.assertIn("Password reset instructions sent", response.text)
        requested = _events(self.env, "password_reset_requested", self.portal.partner_id)
        self.assertEqual(len(requested), 1)
        self.assertEqual(requested.payload, {"user_id": self.portal.id, "login": "ann_portal"})
        self.assertEqual(requested.company_id, self.portal.company_id)
        self.assertFalse(_events(self.env, "password_changed", self.portal.partner_id))

        token = self.portal.partner_id.sudo()._generate_signup_token()
        self.assertNotIn(token, str(requested.read()))
        url = f"/web/reset_password?token={token}"
        response = self.url_open(
            url,
            data={
                "token": token,
                "password": "a-new-long-password",
                "confirm_password": "a-new-long-password",
                "csrf_token": self._csrf(url),
            },
        )
        self.assertIn("Your password has been reset successfully", response.text)
        changed = _events(self.env, "password_changed", self.portal.partner_id)
        self.assertEqual(len(changed), 1)
        self.assertEqual(len(_events(self.env, "password_reset_requested", self.portal.partner_id)), 1)

    def test_staff_sending_a_reset_to_a_portal_user_is_announced_but_not_for_an_employee(self):
        self.portal.with_user(self.env.ref("base.user_admin")).action_reset_password()
        self.employee.action_reset_password()
        self.assertEqual(len(_events(self.env, "password_reset_requested", self.portal.partner_id)), 1)
        self.assertFalse(_events(self.env, "password_reset_requested", self.employee.partner_id))

    def test_a_portal_user_changing_their_password_is_announced_once_an_employee_is_not(self):
        self.portal.with_user(self.portal).change_password("ann_portal", "another-long-password")
        self.employee.with_user(self.employee).change_password("lc_employee", "another-long-password")
        changed = _events(self.env, "password_changed", self.portal.partner_id)
        self.assertEqual(len(changed), 1)
        self.assertEqual(changed.payload, {"user_id": self.portal.id, "login": "ann_portal"})
        self.assertFalse(_events(self.env, "password_changed", self.employee.partner_id))

    def test_setting_the_first_password_of_an_invited_customer_is_no_change(self):
        invited = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            ._create_user_from_template({"login": "invited@example.com", "name": "Ivy Invited"})
        )
        invited.write({"password": "a-first-long-password"})
        self.assertEqual(len(_events(self.env, "customer_registered", invited.partner_id)), 1)
        self.assertFalse(_events(self.env, "password_changed", invited.partner_id))

    def test_the_first_portal_login_completes_the_registration_once(self):
        todo = self.env.ref("mail.mail_activity_data_todo")
        workflow = self.env["lifecycle.workflow"].create(
            {
                "name": "Call new customers",
                "event_type": "registration_completed",
                "step_ids": [(0, 0, {"step_type": "activity", "activity_type_id": todo.id})],
            }
        )
        self.authenticate("ann_portal", "ann_portal")
        self.authenticate("ann_portal", "ann_portal")
        self.authenticate("lc_employee", "lc_employee")
        completed = _events(self.env, "registration_completed", self.portal.partner_id)
        self.assertEqual(len(completed), 1)
        self.assertEqual(completed.payload, {"user_id": self.portal.id, "login": "ann_portal"})
        self.assertFalse(_events(self.env, "registration_completed", self.employee.partner_id))
        self.env["lifecycle.workflow.run"]._cron_engine()
        self.assertEqual(workflow.run_ids.mapped("state"), ["done"])
        self.assertEqual(self.portal.partner_id.activity_ids.activity_type_id, todo)


@tagged("post_install", "-at_install")
class TestCustomerEvents(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contacts = new_test_user(
            cls.env, login="lc_contacts", groups="base.group_user,base.group_partner_manager", name="Connie Contacts"
        )
        cls.customer.write({"customer_rank": 1, "email": "azure@example.com", "ref": "AZ-1"})

    def test_new_events_can_be_subscribed_to_and_all_but_a_deletion_trigger_workflows(self):
        field = self.env["ir.model.fields"]._get("lifecycle.event", "event_type")
        values = set(field.selection_ids.mapped("value"))
        self.assertLessEqual(set(NEW_EVENTS), values)
        triggers = dict(self.env["lifecycle.workflow"]._fields["event_type"]._description_selection(self.env))
        self.assertEqual(set(NEW_EVENTS) - set(triggers), {"customer_deleted"})

    def test_archiving_a_customer_is_announced_and_unarchiving_is_not(self):
        customer = self.customer.with_user(self.contacts)
        customer.action_archive()
        customer.action_unarchive()
        customer.action_archive()
        self.assertEqual(len(_events(self.env, "customer_archived", self.customer)), 2)
        prospect = self.env["res.partner"].create({"name": "Just a contact"})
        prospect.with_user(self.contacts).action_archive()
        self.assertFalse(_events(self.env, "customer_archived", prospect))

    def test_a_deleted_customer_is_announced_with_who_they_were_in_an_event_that_outlives_them(self):
        registered = self.env["res.partner"].create({"name": "Registered Rita", "email": "rita@example.com"})
        self.env["lifecycle.event"]._emit("customer_registered", registered, company_id=self.company.id)
        endpoint = self.env["lifecycle.webhook.endpoint"].create(
            {
                "name": "CRM",
                "url": "https://crm.example.com/hooks",
                "user_id": self.lc_manager.id,
                "payload_style": "thin",
                "event_type_ids": [(6, 0, self._selection_ids("customer_deleted"))],
            }
        )
        ids = {
            self.customer.id: ("Azure Interior", "azure@example.com", "AZ-1"),
            registered.id: ("Registered Rita", "rita@example.com", None),
        }
        (self.customer | registered).with_user(self.contacts).unlink()
        self.env.invalidate_all()
        deleted = _events(self.env, "customer_deleted")
        self.assertEqual(
            {event.res_id: (event.payload["name"], event.payload["email"], event.payload["ref"]) for event in deleted},
            ids,
        )
        self.assertEqual({event.payload["id"] for event in deleted}, set(ids))
        self.assertFalse(deleted.partner_id)
        # the customer's other events went with them
        self.assertFalse(_events(self.env, "customer_registered").filtered(lambda event: event.res_id in ids))
        deliveries = self.env["lifecycle.webhook.delivery"].search([("endpoint_id", "=", endpoint.id)])
        self.assertEqual(len(deliveries), 2)
        self.assertEqual({delivery._data("thin")["customer_id"] for delivery in deliveries}, set(ids))

    def test_deleting_a_mere_contact_is_no_customer_deletion(self):
        contact = self.env["res.partner"].create({"name": "Mere contact"})
        contact.with_user(self.contacts).unlink()
        self.assertFalse(_events(self.env, "customer_deleted").filtered(lambda event: event.res_id == contact.id))

    def _selection_ids(self, *event_types):
        field = self.env["ir.model.fields"]._get("lifecycle.event", "event_type")
        return field.selection_ids.filtered(lambda selection: selection.value in event_types).ids


@tagged("post_install", "-at_install")
class TestNoActiveService(EngineCommon):
    def _lapsed(self, partner):
        return _events(self.env, "no_active_service", partner)

    def _expiring(self, partner, expiry):
        return self._deadline(partner_id=partner.id, expiry=expiry, date_start=expiry - timedelta(days=365))

    def test_a_lapsed_customer_is_invited_back_once_per_lapse(self):
        self.env.ref("subscription_lifecycle.workflow_lapsed").active = True
        deadline = self._expiring(self.customer, NOW.date())
        self._day(1)  # expires it
        self._day(29)
        self.assertFalse(self._lapsed(self.customer))
        self._day(30)
        self._day(31)
        lapsed = self._lapsed(self.customer)
        self.assertEqual(len(lapsed), 1)
        self.assertEqual(lapsed.payload, {"inactive_since": fields.Date.to_string(NOW.date()), "days": 30})
        self.assertEqual(lapsed.company_id, deadline.company_id)
        mails = self.env["mail.mail"].search([("model", "=", "res.partner"), ("res_id", "=", self.customer.id)])
        self.assertEqual(len(mails), 1)
        self.assertIn("We miss you", mails.subject)

        # back again, then gone again: a new lapse
        deadline._renew(date_ref=NOW.date() + timedelta(days=40))
        self._day(100)
        self.assertEqual(len(self._lapsed(self.customer)), 1)
        expiry = deadline.date_expiry
        self._day((expiry - NOW.date()).days + 1)
        self._day((expiry - NOW.date()).days + 31)
        self.assertEqual(len(self._lapsed(self.customer)), 2)

    def test_a_registered_customer_who_never_subscribed_lapses_after_the_companys_days(self):
        self.company.lifecycle_lapse_days = 10
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            ._create_user_from_template({"login": "rita@example.com", "name": "Registered Rita"})
        )
        registered = _events(self.env, "customer_registered", user.partner_id)
        today = registered.create_date
        deadlines = self.env["lifecycle.deadline"]
        deadlines._emit_no_active_service(now=today + timedelta(days=9))
        self.assertFalse(self._lapsed(user.partner_id))
        deadlines._emit_no_active_service(now=today + timedelta(days=10))
        deadlines._emit_no_active_service(now=today + timedelta(days=11))
        lapsed = self._lapsed(user.partner_id)
        self.assertEqual(len(lapsed), 1)
        self.assertEqual(lapsed.payload["days"], 10)
        self.assertEqual(lapsed.company_id, user.company_id)

    def test_a_lapse_the_scheduler_missed_for_more_than_a_week_is_not_announced_that_late(self):
        self._expiring(self.customer, NOW.date())
        self._day(1)  # expires it; its lapse is due on day 30
        self._day(30 + LAPSE_CATCH_UP_DAYS + 1)
        self.assertFalse(self._lapsed(self.customer))

    def test_a_lapse_found_a_few_days_late_is_still_announced(self):
        self._expiring(self.customer, NOW.date())
        self._day(1)
        self._day(30 + LAPSE_CATCH_UP_DAYS)
        self.assertEqual(len(self._lapsed(self.customer)), 1)

    def test_a_customer_with_an_active_service_does_not_lapse(self):
        self._expiring(self.customer, NOW.date() - timedelta(days=1))
        self._deadline(expiry=NOW.date() + timedelta(days=400), date_start=NOW.date() - timedelta(days=2))
        self._day(0)
        self._day(60)
        self.assertFalse(self._lapsed(self.customer))

    def test_finding_the_lapsed_costs_the_same_queries_for_10_or_100_customers(self):
        deadlines = self.env["lifecycle.deadline"]

        def lapse(count, expiry):
            partners = self.env["res.partner"].create([{"name": f"Lapsing {expiry} {i}"} for i in range(count)])
            for partner in partners:
                self._expiring(partner, expiry)
            deadlines._cron_expire(now=NOW + timedelta(days=(expiry - NOW.date()).days + 1))
            self.env.flush_all()
            self.env.invalidate_all()
            return partners

        # the demo customers lapse first; and the caches are warm
        deadlines._cron_expire(now=NOW + timedelta(days=400))
        deadlines._emit_no_active_service(now=NOW + timedelta(days=400))
        small = lapse(10, NOW.date() + timedelta(days=500))
        count = self.cr.sql_log_count
        emitted = deadlines._emit_no_active_service(now=NOW + timedelta(days=530))
        small_queries = self.cr.sql_log_count - count
        self.assertEqual(emitted.partner_id, small)
        big = lapse(100, NOW.date() + timedelta(days=700))
        with self.assertQueryCount(small_queries):
            emitted = deadlines._emit_no_active_service(now=NOW + timedelta(days=730))
        self.assertEqual(emitted.partner_id, big)
