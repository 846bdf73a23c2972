from datetime import date, datetime, timedelta

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.service.model import call_kw
from odoo.tests import new_test_user, tagged

from .common import LifecycleCommon


class TimeCommon(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Event = cls.env["lifecycle.event"]
        cls.company.lifecycle_reminder_offsets = "0"  # the expiry-day notice only
        cls.los_angeles = cls._customer("Hollywood Props", "America/Los_Angeles")
        cls.sydney = cls._customer("Harbour Bridge Pty", "Australia/Sydney")
        cls.salesman = new_test_user(cls.env, login="lc_time_salesman", groups="sales_team.group_sale_salesman")

    @classmethod
    def _customer(cls, name, tz):
        return cls.env["res.partner"].create({"name": name, "is_company": True, "tz": tz})

    def _scheduler_at(self, now):
        """The hourly scheduler, run at ``now`` (UTC)."""
        self.env["lifecycle.deadline"]._cron_schedule(now=now)

    def _events(self, deadline, event_type):
        return self.Event.search([("deadline_id", "=", deadline.id), ("event_type", "=", event_type)])

    def _sell(self, partner, product, when):
        """Confirm an order for ``product`` at ``when`` (UTC): confirming dates the order."""
        with freeze_time(when):
            order = (
                self.env["sale.order"]
                .with_user(self.salesman)
                .create(
                    {
                        "partner_id": partner.id,
                        "order_line": [Command.create({"product_id": product.id, "price_unit": 45.0})],
                    }
                )
            )
            order.action_confirm()
        self.assertEqual(order.date_order, when)
        return order.order_line.lifecycle_created_deadline_id.with_env(self.env)


@tagged("post_install", "-at_install")
class TestTimeCustomerDay(TimeCommon):
    """Item 7: expiry, reminders and days left follow the customer's own calendar."""

    def test_a_los_angeles_customer_gets_the_expiry_day_notice_on_the_expiry_day(self):
        deadline = self._deadline(partner_id=self.los_angeles.id)  # expires on 31 March 2027
        self._scheduler_at(datetime(2027, 3, 31, 0, 30))  # 30 March, 17:30 in Los Angeles
        self.assertFalse(self._events(deadline, "reminder_due"), "not the afternoon before")
        self._scheduler_at(datetime(2027, 3, 31, 7, 30))  # 31 March, 00:30 in Los Angeles
        notice = self._events(deadline, "reminder_due")
        self.assertEqual((notice.reminder_offset, notice.payload["days_left"]), (0, 0))

    def test_a_los_angeles_deadline_stays_active_through_its_last_local_day(self):
        deadline = self._deadline(partner_id=self.los_angeles.id)
        self._scheduler_at(datetime(2027, 4, 1, 6, 30))  # 31 March, 23:30 in Los Angeles
        self.assertEqual(deadline.state, "active")
        self.assertFalse(self._events(deadline, "deadline_expired"))
        self._scheduler_at(datetime(2027, 4, 1, 7, 30))  # 1 April, 00:30 in Los Angeles
        self.assertEqual(deadline.state, "expired")
        self.assertEqual(len(self._events(deadline, "deadline_expired")), 1)

    def test_a_sydney_customer_is_reminded_and_expires_on_their_own_calendar(self):
        deadline = self._deadline(partner_id=self.sydney.id)
        self._scheduler_at(datetime(2027, 3, 30, 13, 30))  # 31 March, 00:30 in Sydney; 30 March in UTC
        self.assertEqual(self._events(deadline, "reminder_due").reminder_offset, 0)
        self._scheduler_at(datetime(2027, 3, 31, 13, 30))  # 1 April, 00:30 in Sydney; 31 March in UTC
        self.assertEqual(deadline.state, "expired")

    def test_without_a_customer_time_zone_the_company_one_counts_then_utc(self):
        self.company.partner_id.tz = "America/Los_Angeles"
        ours = self._deadline()
        theirs = self._deadline(company_id=self.other_company.id)
        self.assertFalse(self.customer.tz or self.other_company.partner_id.tz)
        self._scheduler_at(datetime(2027, 4, 1, 6, 30))  # 31 March in Los Angeles, 1 April in UTC
        self.assertEqual((ours.state, theirs.state), ("active", "expired"))

    def test_days_left_are_the_customers_for_every_reader_and_every_email(self):
        deadline = self._deadline(partner_id=self.los_angeles.id)
        self.company.lifecycle_renewal_window = 0  # renewable from the expiry day on
        self.lc_user.tz = "Asia/Tokyo"
        contact = self.env["res.partner"].create(
            {"name": "Ann Props", "parent_id": self.los_angeles.id, "tz": "Europe/Brussels"}
        )
        portal = new_test_user(self.env, login="lc_time_portal", groups="base.group_portal", partner_id=contact.id)
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_3")
        with freeze_time("2027-03-31 03:00:00"):  # 30 March, 20:00 in Los Angeles; 31 March in Tokyo
            for reader in (self.lc_user, portal):
                seen = deadline.with_user(reader)
                with self.subTest(reader=reader.login):
                    self.assertEqual((seen.days_left, seen.portal_can_renew), (1, False))
            subject = template._render_field("subject", deadline.ids)[deadline.id]
            self.assertIn("Expires in 1 day: your", subject)
        deadline.invalidate_recordset(["days_left", "portal_can_renew"])  # a later request
        with freeze_time("2027-03-31 07:30:00"):  # 31 March in Los Angeles
            self.assertEqual(deadline.with_user(portal).days_left, 0)
            self.assertTrue(deadline.with_user(portal).portal_can_renew)

    def test_a_sydney_order_placed_on_the_morning_of_march_1_starts_on_march_1(self):
        deadline = self._sell(self.sydney, self.monthly, datetime(2027, 2, 28, 21, 0))  # 1 March, 08:00 in Sydney
        self.assertEqual((deadline.date_start, deadline.date_expiry), (date(2027, 3, 1), date(2027, 4, 1)))


@tagged("post_install", "-at_install")
class TestTimeAnchorDay(TimeCommon):
    """Item 8: renewals keep the start date's day, wherever the deadline comes from."""

    def test_a_monthly_service_sold_on_january_31_renews_to_march_31(self):
        deadline = self._sell(self.customer, self.monthly, datetime(2027, 1, 31, 10, 0))
        self.assertEqual((deadline.date_start, deadline.date_expiry), (date(2027, 1, 31), date(2027, 2, 28)))
        deadline._renew(date_ref=date(2027, 2, 20))
        self.assertEqual(deadline.date_expiry, date(2027, 3, 31))
        deadline._renew(date_ref=date(2027, 3, 20))
        self.assertEqual(deadline.date_expiry, date(2027, 4, 30))

    def test_a_deadline_entered_from_january_31_renews_to_march_31(self):
        deadline = self._deadline(product=self.monthly, date_start=date(2027, 1, 31), expiry=date(2027, 2, 28))
        deadline._renew(date_ref=date(2027, 2, 20))
        self.assertEqual(deadline.date_expiry, date(2027, 3, 31))
        contract = self._deadline(date_start=date(2026, 4, 1), expiry=date(2027, 3, 31))
        self.assertEqual(contract.anchor_day, 31, "an expiry on another day than the start keeps its own")


@tagged("post_install", "-at_install")
class TestTimeStateGuard(LifecycleCommon):
    """Item 13: state changes are checked on the server, whatever the caller puts in the context."""

    def _rpc(self, user, deadline, method, *args, context=None):
        """Call ``method`` the way the web client and external RPC clients do."""
        context = {"lifecycle_state_change": True, **(context or {})}
        return call_kw(
            self.env["lifecycle.deadline"].with_user(user), method, [deadline.ids, *args], {"context": context}
        )

    def _events(self, deadline, event_type):
        return self.env["lifecycle.event"].search([("deadline_id", "=", deadline.id), ("event_type", "=", event_type)])

    def test_an_rpc_write_cannot_reactivate_a_closed_deadline_whatever_the_context(self):
        illegal = (("closed", "active"), ("expired", "active"), ("cancelled", "active"), ("active", "draft"))
        for user in (self.lc_user, self.lc_manager):
            for state, new_state in illegal:
                deadline = self._deadline(state=state)
                with self.subTest(user=user.login, state=state, new_state=new_state):
                    self.assertRefused("cannot become", self._rpc, user, deadline, "write", {"state": new_state})
                    self.assertEqual(deadline.state, state)
                    self.assertFalse(self._events(deadline, "deadline_activated"))

    def test_a_legal_rpc_write_changes_the_state_like_the_button_and_announces_it(self):
        for user in (self.lc_user, self.lc_manager):
            deadline = self._deadline(state="draft")
            with self.subTest(user=user.login):
                self._rpc(user, deadline, "write", {"state": "active"})
                self.assertEqual(deadline.state, "active")
                self.assertEqual(len(self._events(deadline, "deadline_activated")), 1)
                self._rpc(user, deadline, "write", {"state": "closed", "quantity": 2})
                self.assertEqual((deadline.state, deadline.quantity), ("closed", 2))
                self.assertEqual(len(self._events(deadline, "deadline_closed")), 1)

    def test_only_the_scheduler_expires_a_deadline_once_its_date_is_past(self):
        deadline = self._deadline(expiry=date.today() + timedelta(days=100))
        lapsed = self._deadline(expiry=date.today() - timedelta(days=20))
        for user in (self.lc_user, self.lc_manager):
            for record in (deadline, lapsed):
                with self.subTest(user=user.login, expiry=record.date_expiry):
                    self.assertRefused("expires by itself", self._rpc, user, record, "write", {"state": "expired"})
        self.assertEqual((deadline.state, lapsed.state), ("active", "active"))
        self.assertFalse(self._events(deadline, "deadline_expired"), "no 'expired' email months early")
        self.env["lifecycle.deadline"]._cron_expire()
        self.assertEqual((deadline.state, lapsed.state), ("active", "expired"))
        self.assertEqual(len(self._events(lapsed, "deadline_expired")), 1)

    def test_only_a_renewal_brings_an_expired_deadline_back(self):
        deadline = self._deadline(state="expired", expiry=date(2026, 10, 31))
        with self.assertRaises(AccessError):
            self._rpc(self.lc_user, deadline, "_renew")
        self._rpc(self.lc_user, deadline, "action_renew", context={"lifecycle_expected_expiry": "2026-10-31"})
        self.assertEqual(deadline.state, "active")
        self.assertEqual(len(deadline.renewal_ids), 1)
        self.assertEqual(len(self._events(deadline, "deadline_renewed")), 1)
        self.assertFalse(self._events(deadline, "deadline_activated"), "a renewal is no fresh activation")
