from datetime import date, datetime

from psycopg2.errors import UniqueViolation

from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestDeadlineStates(LifecycleCommon):
    def test_name_says_service_customer_and_expiry(self):
        deadline = self._deadline()
        self.assertEqual(deadline.name, "Maintenance contract — Azure Interior, until 2027-03-31")

    def test_allowed_transitions(self):
        deadline = self._deadline(state="draft")
        deadline.action_activate()
        self.assertEqual(deadline.state, "active")
        deadline._cron_expire(now=datetime(2027, 4, 1, 12, 0))
        self.assertEqual(deadline.state, "expired")
        deadline.action_close()
        self.assertEqual(deadline.state, "closed")
        other = self._deadline(state="active")
        other.action_cancel()
        other.action_draft()
        self.assertEqual(other.state, "draft")
        other.action_cancel()
        self.assertEqual(other.state, "cancelled")

    def test_refused_transitions(self):
        refused = {
            "draft": ("action_close", "action_draft"),
            "active": ("action_activate", "action_draft"),
            "expired": ("action_activate", "action_draft"),
            "closed": ("action_activate", "action_close", "action_cancel", "action_draft"),
            "cancelled": ("action_activate", "action_close", "action_cancel"),
        }
        for state, actions in refused.items():
            deadline = self._deadline(state=state)
            for action in actions:
                with self.subTest(state=state, action=action), self.assertRaises(UserError):
                    getattr(deadline, action)()
                self.assertEqual(deadline.state, state)

    def test_state_writes_follow_the_same_transitions_as_the_buttons(self):
        deadline = self._deadline()
        self.assertRefused("cannot become Draft", deadline.with_user(self.lc_user).write, {"state": "draft"})
        self.assertEqual(deadline.state, "active")

    def test_cron_marks_past_deadlines_expired_once(self):
        past = self._deadline(expiry=date(2026, 11, 20))
        today = self._deadline(expiry=date(2026, 11, 21))
        draft = self._deadline(expiry=date(2026, 11, 1), state="draft")
        expired = self.env["lifecycle.deadline"]._cron_expire(now=datetime(2026, 11, 21, 12, 0))
        self.assertEqual(expired, past)
        self.assertEqual((past.state, today.state, draft.state), ("expired", "active", "draft"))
        self.assertFalse(self.env["lifecycle.deadline"]._cron_expire(now=datetime(2026, 11, 21, 12, 0)))

    def test_the_chatter_shows_the_expiry_as_a_status_change(self):
        expiring = self._deadline(expiry=date(2026, 11, 20))
        self.env["lifecycle.deadline"]._cron_expire(now=datetime(2026, 11, 21, 12, 0))
        # as tracking does: the status line, an internal note by the running user, written as the engine takes
        # the expiry event
        self.env["lifecycle.workflow.run"]._cron_engine(now=datetime(2026, 11, 21, 12, 0))
        change = expiring.message_ids.tracking_value_ids.filtered(lambda tracking: tracking.field_id.name == "state")
        self.assertEqual((change.old_value_char, change.new_value_char), ("Active", "Expired"))
        self.assertRecordValues(
            change.mail_message_id,
            [
                {
                    "message_type": "notification",
                    "subtype_id": self.env.ref("mail.mt_note").id,
                    "author_id": self.env.user.partner_id.id,
                    "is_internal": True,
                    "model": "lifecycle.deadline",
                    "res_id": expiring.id,
                }
            ],
        )

    def test_each_deadline_expired_together_shows_its_own_status_change(self):
        expiring = self._deadline(expiry=date(2026, 11, 18))
        for day in (19, 20):
            expiring |= self._deadline(expiry=date(2026, 11, day))
        self.env["lifecycle.deadline"]._cron_expire(now=datetime(2026, 11, 21, 12, 0))
        # the engine running again (another worker, the next minute) writes no second note
        for _run in range(2):
            self.env["lifecycle.workflow.run"]._cron_engine(now=datetime(2026, 11, 21, 12, 0))
        for deadline in expiring:
            changes = deadline.message_ids.tracking_value_ids.filtered(
                lambda tracking: tracking.field_id.name == "state"
            )
            self.assertEqual(len(changes), 1, "one status change in each chatter, none in another's")
            self.assertEqual((changes.old_value_char, changes.new_value_char), ("Active", "Expired"))
            self.assertRecordValues(
                changes.mail_message_id,
                [
                    {
                        "message_type": "notification",
                        "subtype_id": self.env.ref("mail.mt_note").id,
                        "author_id": self.env.user.partner_id.id,
                        "is_internal": True,
                        "model": "lifecycle.deadline",
                        "res_id": deadline.id,
                    }
                ],
            )

    def test_only_draft_or_cancelled_can_be_deleted(self):
        active = self._deadline()
        with self.assertRaises(UserError):
            active.with_user(self.lc_manager).unlink()
        draft = self._deadline(state="draft")
        with self.assertRaises(AccessError):
            draft.with_user(self.lc_user).unlink()
        draft.with_user(self.lc_manager).unlink()
        self.assertFalse(draft.exists())


@tagged("post_install", "-at_install")
class TestDeadlineInput(LifecycleCommon):
    def test_expiry_before_start_is_refused(self):
        count = self.env["lifecycle.deadline"].search_count([])
        self.assertRefused(
            "expiry date cannot be before the start date",
            self._deadline,
            date_start=date(2027, 1, 1),
            expiry=date(2026, 12, 31),
        )
        self.assertEqual(self.env["lifecycle.deadline"].search_count([]), count)
        deadline = self._deadline()
        self.assertRefused("cannot be before the start date", deadline.write, {"date_expiry": date(2026, 1, 1)})
        self.assertEqual(deadline.date_expiry, date(2027, 3, 31))

    def test_negative_quantity_or_amount_is_refused(self):
        count = self.env["lifecycle.deadline"].search_count([])
        self.assertRefused("quantity must be greater than zero", self._deadline, quantity=-3)
        self.assertRefused("quantity must be greater than zero", self._deadline, quantity=0)
        self.assertRefused("amount cannot be negative", self._deadline, amount=-1.0)
        self.assertEqual(self.env["lifecycle.deadline"].search_count([]), count)
        deadline = self._deadline()
        self.assertRefused("amount cannot be negative", deadline.with_user(self.lc_user).write, {"amount": -0.01})
        self.assertEqual(deadline.amount, 1200.0)

    def test_product_without_duration_is_refused(self):
        plain = self.env["product.product"].create({"name": "Chair", "type": "consu"})
        self.assertRefused("has no renewal duration", self._deadline, product=plain)
        self.assertRefused("duration must be at least 1", self.yearly.write, {"lifecycle_duration": 0})
        self.assertEqual(self.yearly.lifecycle_duration, 1)

    def test_form_creates_a_draft_for_the_user(self):
        form = Form(self.env["lifecycle.deadline"].with_user(self.lc_user))
        form.partner_id = self.customer
        form.product_id = self.monthly
        form.date_start = date(2026, 11, 1)
        form.date_expiry = date(2026, 11, 30)
        form.amount = 45
        deadline = form.save()
        self.assertEqual(deadline.state, "draft")
        self.assertEqual(deadline.user_id, self.lc_user)
        self.assertEqual(deadline.anchor_day, 30)


@tagged("post_install", "-at_install")
class TestDeadlineRenewal(LifecycleCommon):
    def test_renewal_before_expiry_continues_from_expiry(self):
        deadline = self._deadline(expiry=date(2027, 3, 31))
        renewal = deadline._renew(date_ref=date(2027, 3, 1))
        self.assertEqual(deadline.date_expiry, date(2028, 3, 31))
        self.assertEqual(
            (renewal.date_from, renewal.date_to, renewal.amount), (date(2027, 3, 31), date(2028, 3, 31), 1200)
        )
        self.assertEqual(renewal.source, "manual")
        self.assertIn("Renewed from", deadline.message_ids[0].body)

    def test_monthly_renewals_keep_the_anchor_day_across_a_year(self):
        deadline = self._deadline(product=self.monthly, expiry=date(2027, 1, 31), amount=45)
        expiries = []
        for _month in range(12):
            deadline._renew(date_ref=deadline.date_expiry)
            expiries.append(deadline.date_expiry)
        self.assertEqual(
            expiries[:4] + expiries[-1:],
            [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31), date(2028, 1, 31)],
        )
        self.assertEqual(deadline.renewal_count, 12)

    def test_late_renewal_counts_from_today_or_old_expiry(self):
        deadline = self._deadline(product=self.monthly, expiry=date(2026, 10, 31), amount=45)
        deadline._cron_expire(now=datetime(2026, 11, 21, 12, 0))
        self.assertEqual(deadline.state, "expired")
        deadline._renew(date_ref=date(2026, 11, 21))
        self.assertEqual((deadline.date_expiry, deadline.state), (date(2026, 12, 21), "active"))
        self.assertEqual(deadline.anchor_day, 21)

        self.company.lifecycle_late_renewal_base = "expiry"
        other = self._deadline(product=self.monthly, expiry=date(2026, 10, 31), amount=45, state="expired")
        other._renew(date_ref=date(2026, 11, 21))
        self.assertEqual(other.date_expiry, date(2026, 11, 30))

    def test_cancelled_closed_or_draft_cannot_be_renewed(self):
        for state in ("cancelled", "closed", "draft"):
            deadline = self._deadline(state=state)
            with self.subTest(state=state):
                self.assertRefused("cannot be renewed", deadline._renew)
            self.assertEqual(deadline.date_expiry, date(2027, 3, 31))
            self.assertFalse(deadline.renewal_ids)

    def test_renewing_twice_in_one_click_renews_once(self):
        deadline = self._deadline().with_user(self.lc_user)
        button = deadline.with_context(lifecycle_expected_expiry="2027-03-31")
        button.action_renew()
        self.assertRefused("already renewed", button.action_renew)
        self.assertEqual(deadline.date_expiry, date(2028, 3, 31))
        self.assertEqual(len(deadline.renewal_ids), 1)

    def test_database_refuses_two_renewals_from_the_same_expiry(self):
        deadline = self._deadline()
        renewal = deadline._renew()
        with mute_logger("odoo.sql_db"), self.assertRaises(UniqueViolation), self.cr.savepoint():
            renewal.copy({"date_to": date(2029, 3, 31)})

    def test_renewal_history_is_read_only_for_staff(self):
        renewal = self._deadline()._renew()
        for user in (self.lc_user, self.lc_manager):
            with self.assertRaises(AccessError):
                renewal.with_user(user).write({"amount": 1})
            with self.assertRaises(AccessError):
                renewal.with_user(user).unlink()
        self.assertEqual(renewal.amount, 1200)


@tagged("post_install", "-at_install")
class TestDeadlineAccess(LifecycleCommon):
    def test_user_works_on_deadlines_but_not_configuration(self):
        deadline = self._deadline().with_user(self.lc_user)
        deadline.write({"quantity": 3})
        deadline._renew()
        with self.assertRaises(AccessError):
            self.env["lifecycle.origin"].with_user(self.lc_user).create({"name": "Fair"})
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.lc_user).create({"lifecycle_late_renewal_base": "expiry"})
        self.assertEqual(self.company.lifecycle_late_renewal_base, "today")

    def test_employee_without_group_cannot_read_deadlines(self):
        deadline = self._deadline()
        with self.assertRaises(AccessError):
            deadline.with_user(self.employee).read(["name"])

    def test_deadlines_of_another_company_are_invisible(self):
        ours = self._deadline()
        theirs = self._deadline(company_id=self.other_company.id)
        theirs._renew()
        deadlines = (
            self.env["lifecycle.deadline"].with_user(self.lc_user).with_context(allowed_company_ids=[self.company.id])
        )
        self.assertEqual(deadlines.search([("partner_id", "=", self.customer.id)]), ours)
        renewals = (
            self.env["lifecycle.deadline.renewal"]
            .with_user(self.lc_user)
            .with_context(allowed_company_ids=[self.company.id])
        )
        self.assertFalse(renewals.search([("deadline_id", "=", theirs.id)]))
        self.assertTrue(renewals.sudo().search([("deadline_id", "=", theirs.id)]))
        with self.assertRaises(AccessError):
            theirs.with_user(self.lc_user).with_context(allowed_company_ids=[self.company.id]).read(["name"])
