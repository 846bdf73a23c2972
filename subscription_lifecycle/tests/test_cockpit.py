from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.web.tests import test_js

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestCockpit(LifecycleCommon):
    """The overview dashboard's figures on a small book whose answers are known."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a company of its own: nobody else's deadlines in the figures
        cls.company = cls.env["res.company"].create(
            {"name": "Cockpit Company", "currency_id": cls.env.ref("base.USD").id}
        )
        for user in (cls.lc_user, cls.lc_manager, cls.employee):
            user.company_ids |= cls.company
        cls.lc_user.tz = "UTC"
        cls.today = fields.Date.context_today(cls.lc_user.with_user(cls.lc_user))
        cls.euro = cls.env.ref("base.EUR")
        cls.euro.active = True
        # 100 euros are worth 50 of the company's currency today
        cls.env["res.currency.rate"].create(
            {"currency_id": cls.euro.id, "name": cls.today, "rate": 2.0, "company_id": cls.company.id}
        )
        cls.callback_type = cls.env.ref("subscription_lifecycle.mail_activity_type_callback")

    def _in(self, days, **vals):
        """A deadline expiring ``days`` from today (negative: in the past)."""
        expiry = self.today + timedelta(days=days)
        vals.setdefault("company_id", self.company.id)
        return self._deadline(expiry=expiry, date_start=expiry - timedelta(days=365), **vals)

    def _book(self):
        """One deadline of each kind the dashboard tells apart, in the current company."""
        book = {
            "soon": self._in(2, amount=100.0),
            "called": self._in(10, amount=200.0),
            "later": self._in(40, amount=700.0),
            "euro": self._in(20, amount=100.0, currency_id=self.euro.id),
            "lapsed": self._in(-5, amount=300.0, state="expired"),
            "ended": self._in(-10, amount=50.0, state="closed"),
            "renewed": self._in(-3, amount=400.0),
            "draft": self._in(5, amount=1000.0, state="draft"),
            "cancelled": self._in(-5, amount=1000.0, state="cancelled"),
        }
        book["renewed"]._renew(date_ref=self.today)
        book["called"].activity_schedule(
            "subscription_lifecycle.mail_activity_type_callback", date_deadline=self.today, user_id=self.lc_user.id
        )
        wallet = self.env["lifecycle.wallet"]._for_partner(self.customer, self.company, self.company.currency_id)
        wallet._post("deposit", 80.0)
        event = self.env["lifecycle.event"].search([("deadline_id", "=", book["soon"].id)], limit=1)
        self._failed_run(event)
        return book

    def _other_company_book(self):
        """What another company holds: none of it may show when only the current company is allowed."""
        other = {"company_id": self.other_company.id, "currency_id": self.other_company.currency_id.id}
        soon = self._in(2, amount=9999.0, **other)
        self._in(-5, amount=9999.0, state="expired", **other)
        wallet = self.env["lifecycle.wallet"]._for_partner(
            self.customer, self.other_company, self.other_company.currency_id
        )
        wallet._post("deposit", 500.0)
        self._failed_run(self.env["lifecycle.event"].search([("deadline_id", "=", soon.id)], limit=1))
        return soon

    def _failed_run(self, event):
        return (
            self.env["lifecycle.workflow.run"]
            .sudo()
            .create(
                {
                    "workflow_id": self.env.ref("subscription_lifecycle.workflow_reminder_30").id,
                    "event_id": event.id,
                    "state": "failed",
                }
            )
        )

    def _cockpit(self, user=None, companies=None):
        user = user or self.lc_user
        companies = companies or self.company
        return (
            self.env["lifecycle.cockpit"]
            .with_user(user)
            .with_context(allowed_company_ids=companies.ids, tz=user.tz)
            .with_company(companies[0])
        )

    def _kpis(self, data):
        return {kpi["key"]: kpi for kpi in data["kpis"]}

    def test_kpis_on_a_known_book(self):
        self._book()
        self._other_company_book()
        kpis = self._kpis(self._cockpit().get_cockpit_data())
        # soon 100 + called 200 + euro 100 EUR = 50; the renewed one moved a year on
        self.assertEqual((kpis["due"]["count"], kpis["due"]["amount"]), (3, 350.0))
        # 30 days ago, the lapsed one and the one since renewed were still to renew
        self.assertEqual(kpis["due"]["trend"], {"previous": 2, "delta": 1, "percent": 50})
        self.assertEqual((kpis["renewed"]["count"], kpis["renewed"]["amount"]), (1, 400.0))
        self.assertEqual(kpis["renewed"]["trend"], {"previous": 0, "delta": 1, "percent": None})
        # renewed: 1; not renewed: the lapsed one and the closed one; the cancelled one does not count
        self.assertEqual(kpis["renewal_rate"]["value"], 33.3)
        self.assertIsNone(kpis["renewal_rate"]["trend"], "nothing fell due the 30 days before")
        self.assertEqual((kpis["expired"]["count"], kpis["expired"]["value"]), (1, 300.0))
        # nobody is on the soon one nor the euro one; the called one has its callback
        self.assertEqual((kpis["at_risk"]["count"], kpis["at_risk"]["value"]), (2, 150.0))
        self.assertIsNone(kpis["at_risk"]["trend"])
        self.assertEqual(kpis["wallets"]["value"], 80.0)
        self.assertEqual(kpis["wallets"]["trend"], {"previous": 0.0, "delta": 80.0, "percent": None})
        self.assertEqual(kpis["failed_runs"]["value"], 1)

    def test_managers_see_failed_webhook_deliveries_users_do_not(self):
        endpoint = self.env["lifecycle.webhook.endpoint"].create(
            {"name": "Accounting", "url": "https://accounting.example.com/hooks", "company_id": self.company.id}
        )
        values = {"endpoint_id": endpoint.id, "company_id": self.company.id, "event_type": "payment_received"}
        self.env["lifecycle.webhook.delivery"].create([{**values, "state": "failed"}, {**values, "state": "delivered"}])
        kpis = self._kpis(self._cockpit(user=self.lc_manager).get_cockpit_data())
        self.assertEqual(kpis["failed_deliveries"]["value"], 1)
        self.assertNotIn("failed_deliveries", self._kpis(self._cockpit().get_cockpit_data()))

    def test_upcoming_renewals_show_the_next_seven_days_with_days_left(self):
        book = self._book()
        self._other_company_book()
        upcoming = self._cockpit().get_cockpit_data()["upcoming"]
        self.assertFalse(upcoming["more"])
        [row] = upcoming["rows"]
        self.assertEqual(row["id"], book["soon"].id)
        self.assertEqual(
            (row["customer"], row["service"], row["amount"], row["days_left"]),
            ("Azure Interior", "Maintenance contract", 100.0, 2),
        )

    def test_another_companys_records_show_only_once_it_is_allowed(self):
        self._book()
        soon_elsewhere = self._other_company_book()
        both = self._cockpit(companies=self.company | self.other_company).get_cockpit_data()
        kpis = self._kpis(both)
        self.assertEqual(kpis["due"]["count"], 4)
        self.assertEqual(kpis["expired"]["count"], 2)
        self.assertEqual(kpis["failed_runs"]["value"], 2)
        self.assertIn(soon_elsewhere.id, [row["id"] for row in both["upcoming"]["rows"]])

    def test_a_user_sees_only_what_record_rules_let_them_see(self):
        book = self._book()
        self.env["ir.rule"].create(
            {
                "name": "Lifecycle users see their own deadlines",
                "model_id": self.env["ir.model"]._get_id("lifecycle.deadline"),
                "groups": [Command.link(self.env.ref("subscription_lifecycle.group_lifecycle_user").id)],
                "domain_force": "[('user_id', '=', user.id)]",
            }
        )
        book["called"].user_id = self.lc_user
        kpis = self._kpis(self._cockpit().get_cockpit_data())
        self.assertEqual((kpis["due"]["count"], kpis["due"]["amount"]), (1, 200.0))
        self.assertEqual(kpis["expired"]["count"], 0)
        # a manager is a user too: the same rule applies to them
        manager_kpis = self._kpis(self._cockpit(self.lc_manager).get_cockpit_data())
        self.assertEqual(manager_kpis["due"]["count"], 0)

    def test_an_employee_outside_the_app_is_refused(self):
        with self.assertRaises(AccessError):
            self._cockpit(self.employee).get_cockpit_data()

    def test_my_callbacks_due_today_or_late_are_to_do_the_oldest_first(self):
        book = self._book()
        late = self.customer.activity_schedule(
            "subscription_lifecycle.mail_activity_type_callback",
            date_deadline=self.today - timedelta(days=2),
            user_id=self.lc_user.id,
        )
        self.customer.activity_schedule(
            "subscription_lifecycle.mail_activity_type_callback",
            date_deadline=self.today + timedelta(days=1),
            user_id=self.lc_user.id,
        )
        book["soon"].activity_schedule(
            "subscription_lifecycle.mail_activity_type_callback",
            date_deadline=self.today,
            user_id=self.lc_manager.id,
        )
        todo = self._cockpit().get_cockpit_data()["todo"]
        self.assertEqual(todo["callback_type_id"], self.callback_type.id)
        self.assertEqual(
            [(row["res_name"], row["days_late"]) for row in todo["rows"]],
            [("Azure Interior", 2), (book["called"].display_name, 0)],
        )
        self.assertEqual(todo["rows"][0]["id"], late.id)

    def test_a_callback_marked_done_with_a_note_leaves_the_list_and_the_note_in_the_chatter(self):
        book = self._book()
        [row] = self._cockpit().get_cockpit_data()["todo"]["rows"]
        activity = self.env["mail.activity"].with_user(self.lc_user).browse(row["id"])
        activity.action_feedback(feedback="Left a voicemail")
        self.assertFalse(self._cockpit().get_cockpit_data()["todo"]["rows"])
        self.assertIn("Left a voicemail", book["called"].message_ids[0].body)
        self.assertEqual(self.customer.lifecycle_callback_date, self.today)

    def test_each_kpi_opens_the_list_of_what_it_counts(self):
        self._book()
        self._other_company_book()
        cockpit = self._cockpit()
        data = cockpit.get_cockpit_data()
        for kpi in data["kpis"]:
            with self.subTest(kpi=kpi["key"]):
                action = cockpit.action_open_list(kpi["key"])
                self.assertEqual((action["name"], action["display_name"]), (kpi["label"], kpi["label"]))
                self.assertEqual(cockpit.env[action["res_model"]].search_count(action["domain"]), kpi["count"])
        action = cockpit.action_open_list("upcoming")
        self.assertEqual(
            cockpit.env["lifecycle.deadline"].search(action["domain"]).ids,
            [row["id"] for row in data["upcoming"]["rows"]],
        )

    def test_an_unknown_figure_is_refused(self):
        with self.assertRaisesRegex(UserError, "no figure named"):
            self._cockpit().action_open_list("nonsense")

    def test_the_number_of_queries_does_not_grow_with_the_book(self):
        cockpit = self._cockpit()
        self._book()
        self._assert_queries(cockpit)
        for days in range(-25, 25):
            self._in(days, amount=10.0, state="expired" if days < 0 else "active")
            self._in(days, amount=10.0, currency_id=self.euro.id)
        for deadline in self.env["lifecycle.deadline"].search([("date_expiry", "<", self.today)], limit=12):
            deadline.activity_schedule(
                "subscription_lifecycle.mail_activity_type_callback",
                date_deadline=self.today,
                user_id=self.lc_user.id,
            )
        data = self._assert_queries(cockpit)
        self.assertTrue(data["upcoming"]["more"])
        self.assertEqual(len(data["upcoming"]["rows"]), 10)

    def _assert_queries(self, cockpit):
        """The dashboard's queries, on an empty record cache, once the registry's caches are warm."""
        cockpit.get_cockpit_data()
        self.env.invalidate_all()
        cockpit.get_cockpit_data()
        self.env.invalidate_all()
        with self.assertQueryCount(34):
            data = cockpit.get_cockpit_data()
        return data


@tagged("post_install", "-at_install")
class TestCockpitUi(HttpCase):
    def test_dashboard_unit_tests_pass_in_the_browser(self):
        """The dashboard component's Hoot tests (static/tests/cockpit.test.js), run as Odoo runs its own."""
        suite = test_js.HOOTCommon._generate_hash(self, "@subscription_lifecycle")
        self.browser_js(
            f"/web/tests?headless&loglevel=2&preset=desktop&timeout=15000&id={suite}",
            "",
            "",
            login="admin",
            timeout=1200,
            success_signal="[HOOT] Test suite succeeded",
            error_checker=test_js.unit_test_error_checker,
        )

    def test_open_the_dashboard_mark_a_callback_done_and_follow_a_kpi(self):
        # the user's today (callbacks) and the customer's (days left) are one day at any hour
        user = new_test_user(
            self.env, login="lc_tour_cockpit", groups="subscription_lifecycle.group_lifecycle_user", tz="UTC"
        )
        product = self.env["product.product"].create(
            {"name": "Tour cockpit licence", "lifecycle_is_deadline": True, "lifecycle_duration": 1}
        )
        customer = self.env["res.partner"].create({"name": "Tour Cockpit Customer", "is_company": True, "tz": "UTC"})
        today = fields.Date.context_today(user.with_user(user))  # the user's, not the test's admin's
        deadline = self.env["lifecycle.deadline"].create(
            {
                "partner_id": customer.id,
                "product_id": product.id,
                "date_start": today - timedelta(days=300),
                "date_expiry": today + timedelta(days=2),
                "amount": 99,
                "state": "active",
                "user_id": user.id,
            }
        )
        callback = deadline.activity_schedule(
            "subscription_lifecycle.mail_activity_type_callback", date_deadline=today, user_id=user.id
        )
        self.start_tour("/odoo", "subscription_lifecycle_cockpit_tour", login=user.login)
        self.env.invalidate_all()
        self.assertFalse(callback.exists().active)
        self.assertIn("Will renew next week", deadline.message_ids[0].body)
