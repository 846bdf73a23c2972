from datetime import date, timedelta

from lxml import etree

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger
from odoo.tools.safe_eval import safe_eval

from .common import LifecycleCommon
from .test_engine import NOW, EngineCommon

RUN_LOGGER = "odoo.addons.subscription_lifecycle.models.lifecycle_workflow_run"


@tagged("post_install", "-at_install")
class TestRightsWorkflowCredit(EngineCommon):
    """Item 10: a workflow's wallet credit goes to the wallet of the event's company."""

    def _bonus_workflow(self, event_type, **vals):
        vals.setdefault("domain", f"[('id', '=', {self.customer.id})]")
        return self._workflow(
            event_type, [{"step_type": "wallet_credit", "wallet_amount": 15.0, "wallet_reason": "Thank you"}], **vals
        )

    def _wallets(self):
        return self.env["lifecycle.wallet"].search([("partner_id", "=", self.customer.id)])

    def test_a_payment_bonus_lands_in_the_company_that_was_paid(self):
        self.assertFalse(self.customer.company_id, "a customer shared by both companies")
        workflow = self._bonus_workflow("payment_received")
        self.env["lifecycle.event"]._emit("payment_received", self.customer, company_id=self.other_company.id)
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.state, "done")
        wallets = self._wallets()
        self.assertEqual(wallets.company_id, self.other_company)
        self.assertEqual((wallets.currency_id, wallets.balance), (self.other_company.currency_id, 15.0))
        self.assertFalse(wallets._check_ledger())

    def test_a_registration_bonus_lands_in_the_company_the_customer_registered_with(self):
        workflow = self._bonus_workflow("customer_registered", domain="[('email', '=', 'newbie@example.com')]")
        user = (
            self.env["res.users"]
            .with_context(no_reset_password=True)
            ._create_user_from_template(
                {
                    "login": "newbie@example.com",
                    "name": "Newbie",
                    "email": "newbie@example.com",
                    "company_id": self.other_company.id,
                    "company_ids": [Command.set(self.other_company.ids)],
                }
            )
        )
        self.assertFalse(user.partner_id.company_id)
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.state, "done")
        wallet = self.env["lifecycle.wallet"].search([("partner_id", "=", user.partner_id.id)])
        self.assertEqual((wallet.company_id, wallet.balance), (self.other_company, 15.0))
        self.assertFalse(wallet._check_ledger())

    def test_without_a_company_on_the_event_the_workflow_company_decides(self):
        workflow = self._bonus_workflow("customer_archived", company_id=self.other_company.id)
        self.customer.customer_rank = 1
        self.customer.action_archive()
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.state, "done")
        self.assertFalse(workflow.run_ids.event_id.company_id)
        wallets = self._wallets()
        self.assertEqual((wallets.company_id, wallets.balance), (self.other_company, 15.0))
        self.assertFalse(wallets._check_ledger())


@tagged("post_install", "-at_install")
class TestRightsRuns(EngineCommon):
    """Item 11: runs, events and their logs change only through the engine, cancel and retry."""

    def setUp(self):
        super().setUp()
        template = self.env.ref("subscription_lifecycle.mail_template_cancelled")
        self.workflow = self._workflow(
            "deadline_cancelled",
            [
                {"step_type": "email", "mail_template_id": template.id},
                {"step_type": "wallet_credit", "wallet_amount": 10.0, "wallet_reason": "Sorry to see you go"},
            ],
        )
        self.deadline = self._deadline()
        self.deadline.action_cancel()
        self.Run._cron_engine(now=NOW)
        self.run = self.workflow.run_ids
        self.wallet = self.env["lifecycle.wallet"].search([("partner_id", "=", self.customer.id)])

    def _effects(self):
        return len(self._mails(self.deadline)), self.wallet.balance, len(self.wallet.transaction_ids)

    def test_nobody_replays_a_finished_run(self):
        self.assertEqual(self.run.state, "done")
        self.assertEqual(self._effects(), (1, 10.0, 1))
        for user in (self.lc_user, self.lc_manager):
            run = self.run.with_user(user)
            with self.assertRaises(AccessError):
                run.write({"state": "running", "resume_at": NOW})
            with self.assertRaises(AccessError):
                run.write({"step_id": False})
            with self.assertRaises(AccessError):
                run.create({"workflow_id": self.workflow.id, "event_id": self.run.event_id.id})
            with self.assertRaises(AccessError):
                run.event_id.write({"state": "pending"})
            with self.assertRaises(AccessError):
                self.env["lifecycle.workflow.run.log"].with_user(user).create(
                    {"run_id": self.run.id, "outcome": "info", "message": "forged"}
                )
            with self.assertRaises(UserError):
                run.action_retry()
            with self.assertRaises(UserError):
                run.action_cancel()
        self.Run._cron_engine(now=NOW)
        self.assertEqual(self.run.state, "done")
        self.assertEqual(self._effects(), (1, 10.0, 1), "no second email, no second bonus")
        self.assertFalse(self.wallet._check_ledger())

    def test_cancel_and_retry_are_for_lifecycle_staff(self):
        waiting = self._workflow("deadline_created", [{"step_type": "wait", "wait_amount": 1, "wait_unit": "hours"}])
        self._deadline(state="draft")
        self.Run._cron_engine(now=NOW)
        run = waiting.run_ids
        self.assertEqual(run.state, "waiting")
        for outsider in (self.employee, new_test_user(self.env, login="lc_portal", groups="base.group_portal")):
            with self.assertRaises(AccessError):
                run.with_user(outsider).action_cancel()
        self.assertEqual(run.state, "waiting")
        run.with_user(self.lc_user).action_cancel()
        self.assertEqual(run.state, "stopped")
        self.assertEqual(run.log_ids[-1].message, f"Cancelled by {self.lc_user.name}.")


@tagged("post_install", "-at_install")
class TestRightsUpdateStep(EngineCommon):
    """Item 12: an update step writes only what its author may write, as its author."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.field = cls.env["ir.model.fields"]._get
        cls.contact_manager = new_test_user(
            cls.env,
            login="lc_contact_manager",
            groups="subscription_lifecycle.group_lifecycle_manager,base.group_partner_manager",
            name="Contact Carla",
        )
        cls.customer.function = "Buyer"

    def _partner_step(self, user, field_name, value):
        return (
            self.env["lifecycle.workflow"]
            .with_user(user)
            .create(
                {
                    "name": "Rewrite contacts",
                    "event_type": "customer_archived",
                    "domain": f"[('id', '=', {self.customer.id})]",
                    "step_ids": [
                        Command.create(
                            {
                                "step_type": "update",
                                "update_field_id": self.field("res.partner", field_name).id,
                                "update_value": value,
                            }
                        )
                    ],
                }
            )
        )

    def test_a_manager_without_rights_on_contacts_cannot_make_a_workflow_rewrite_them(self):
        self.assertRefused(
            "Manager Max may not change Job Position",
            self._partner_step,
            self.lc_manager,
            "function",
            "Former customer",
        )
        workflow = self._partner_step(self.contact_manager, "function", "Former customer")
        self.assertEqual(workflow.step_ids.author_id, self.contact_manager)
        self.assertRefused(
            "Manager Max may not change Job Position",
            workflow.step_ids.with_user(self.lc_manager).write,
            {"update_value": "Anything"},
        )
        self.customer.customer_rank = 1
        self.customer.action_archive()
        self.Run._cron_engine(now=NOW)
        self.assertEqual(workflow.run_ids.state, "done")
        self.assertEqual(self.customer.function, "Former customer")
        self.assertEqual(self.customer.write_uid, self.contact_manager, "written as the step's author")

    def test_whoever_retargets_a_workflow_answers_for_its_update_steps(self):
        workflow = self._partner_step(self.contact_manager, "function", "Former customer")
        self.assertRefused(
            "Manager Max may not change Job Position",
            workflow.with_user(self.lc_manager).write,
            {"domain": "[('is_company', '=', True)]"},
        )
        self.assertEqual(workflow.domain, f"[('id', '=', {self.customer.id})]")
        self.assertEqual(workflow.step_ids.author_id, self.contact_manager)

    def test_renewal_history_is_written_by_renewals_only(self):
        deadline = self._deadline()
        renewals = self.env["lifecycle.deadline.renewal"].with_user(self.lc_user)
        with self.assertRaises(AccessError):
            renewals.create({"deadline_id": deadline.id, "date_from": deadline.date_expiry, "date_to": "2099-01-01"})
        deadline.with_user(self.lc_user).with_context(
            lifecycle_expected_expiry=str(deadline.date_expiry)
        ).action_renew()
        self.assertEqual(len(deadline.renewal_ids), 1, "the Renew button still writes its line")

    def test_a_step_whose_author_lost_the_right_fails_its_run_and_writes_nothing(self):
        workflow = self._partner_step(self.contact_manager, "function", "Former customer")
        self.contact_manager.group_ids = [Command.unlink(self.env.ref("base.group_partner_manager").id)]
        self.customer.customer_rank = 1
        self.customer.action_archive()
        with mute_logger(RUN_LOGGER):
            self.Run._cron_engine(now=NOW)
        run = workflow.run_ids
        self.assertEqual(run.state, "failed")
        self.assertIn("Contact Carla may not change Job Position", run.log_ids[-1].message)
        self.assertEqual(self.customer.function, "Buyer")

    def test_a_record_its_author_cannot_reach_is_not_written(self):
        quantity = self.field("lifecycle.deadline", "quantity")
        workflow = (
            self.env["lifecycle.workflow"]
            .with_user(self.lc_manager)
            .create(
                {
                    "name": "Bump quantity",
                    "event_type": "deadline_created",
                    "domain": f"[('partner_id', '=', {self.customer.id})]",
                    "step_ids": [
                        Command.create({"step_type": "update", "update_field_id": quantity.id, "update_value": "5"})
                    ],
                }
            )
        )
        self.lc_manager.company_ids = self.company
        foreign = self._deadline(state="draft", company_id=self.other_company.id)
        own = self._deadline(state="draft")
        with mute_logger(RUN_LOGGER):
            self.Run._cron_engine(now=NOW)
        runs = {run.deadline_id: run for run in workflow.sudo().run_ids}
        self.assertEqual((runs[own].state, own.quantity), ("done", 5))
        self.assertEqual((runs[foreign].state, foreign.quantity), ("failed", 1))
        self.assertIn("Manager Max may not change", runs[foreign].log_ids[-1].message)

    def test_status_credentials_and_fields_of_other_models_are_never_updated(self):
        deadline_step = {"step_type": "update", "update_value": "x"}
        for model, field_name, pattern in (
            ("lifecycle.deadline", "state", "changes a deadline's status with the cancel step only"),
            ("lifecycle.deadline", "access_token", "A workflow cannot change Security Token"),
            ("lifecycle.deadline", "user_id", "A workflow cannot change Salesperson"),
            ("lifecycle.deadline", "name", "A workflow cannot change Name"),
            ("res.partner", "function", "A workflow cannot change Job Position"),
        ):
            self.assertRefused(
                pattern,
                self._workflow,
                "deadline_created",
                [{**deadline_step, "update_field_id": self.field(model, field_name).id}],
            )
        for field_name in ("email", "active"):
            self.assertRefused(
                "A workflow cannot change",
                self._partner_step,
                self.contact_manager,
                field_name,
                "x",
            )
        workflow = self._workflow(
            "deadline_created",
            [
                {
                    **deadline_step,
                    "update_value": "2",
                    "update_field_id": self.field("lifecycle.deadline", "quantity").id,
                }
            ],
            domain="[]",
        )
        self.assertRefused("A workflow cannot change Quantity", workflow.write, {"event_type": "customer_archived"})


@tagged("post_install", "-at_install")
class TestRightsWalletBalance(LifecycleCommon):
    """Item 14: a customer's wallet balance is for Lifecycle staff."""

    def test_employees_outside_lifecycle_do_not_see_wallet_balances(self):
        wallet = self.env["lifecycle.wallet"]._for_partner(self.customer, self.company, self.company.currency_id)
        wallet._post("bonus", 75.0, reason="Welcome")
        with self.assertRaises(AccessError):
            self.customer.with_user(self.employee).read(["lifecycle_wallet_balance"])
        form = self.env["res.partner"].with_user(self.employee).get_views([(False, "form")])
        self.assertNotIn("lifecycle_wallet_balance", form["views"]["form"]["arch"])
        self.assertEqual(self.customer.with_user(self.lc_user).lifecycle_wallet_balance, 75.0)
        self.assertFalse(wallet._check_ledger())


@tagged("post_install", "-at_install")
class TestRightsCallbacks(LifecycleCommon):
    """Item 17: "Callbacks today" lists my callbacks due today or late, nobody else's."""

    def _listed(self, user):
        """The rows the web client shows when ``user`` opens the action.

        Like the web client's search model: the filters activated by the
        action's ``search_default_*`` keys are OR-ed within a group of
        consecutive filters and the groups AND-ed; a separator, a field or a
        group ends a group of filters.
        """
        action = self.env.ref("subscription_lifecycle.mail_activity_action_lifecycle_callbacks")
        activities = self.env["mail.activity"].with_user(user)
        arch = activities.get_views([(action.search_view_id.id, "search")])["views"]["search"]["arch"]
        defaults = {key[len("search_default_") :] for key, value in safe_eval(action.context).items() if value}
        groups, group = [], []
        for node in etree.fromstring(arch).iter():
            if node.tag == "filter" and node.getparent().tag in ("search", "group"):
                group.append(node)
                continue
            if node.tag in ("separator", "field", "group", "search"):
                groups.append(group)
                group = []
        groups.append(group)
        domain = Domain(safe_eval(action.domain))
        for filters in groups:
            active = [node for node in filters if node.get("name") in defaults]
            if active:
                domain &= Domain.OR(Domain(safe_eval(node.get("domain"), {"uid": user.id})) for node in active)
        return activities.search(domain)

    def test_callbacks_today_lists_mine_due_today_or_late_and_no_colleagues(self):
        callback = self.env.ref("subscription_lifecycle.mail_activity_type_callback")
        # the filter's 'today' is the user's, in their timezone
        today = fields.Date.context_today(self.env["mail.activity"].with_user(self.lc_user))

        def schedule(user, days):
            return self.customer.activity_schedule(
                activity_type_id=callback.id, user_id=user.id, date_deadline=today + timedelta(days=days)
            )

        mine_today, mine_late = schedule(self.lc_user, 0), schedule(self.lc_user, -3)
        schedule(self.lc_user, 1)
        schedule(self.lc_manager, 0)
        schedule(self.lc_manager, -1)
        self.assertEqual(self._listed(self.lc_user), mine_today | mine_late)


@tagged("post_install", "-at_install")
class TestRightsPortalDeadlines(LifecycleCommon, HttpCase):
    """Item 16: an employee who is also a customer sees their own deadlines in the portal."""

    def test_an_employee_who_is_a_customer_sees_their_own_deadlines(self):
        own = self._deadline(partner_id=self.employee.partner_id.id, expiry=date.today() + timedelta(days=40))
        others = self._deadline(expiry=date.today() + timedelta(days=40))
        self.authenticate("lc_employee", "lc_employee")
        page = self.url_open("/my/deadlines")
        self.assertEqual(page.status_code, 200)
        self.assertIn(f"/my/deadlines/{own.id}", page.text)
        self.assertNotIn(f"/my/deadlines/{others.id}", page.text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["deadline_count"]})
        self.assertEqual(counters["deadline_count"], 1)
        self.assertEqual(self.url_open(f"/my/deadlines/{own.id}").status_code, 200)
        self.assertEqual(self.url_open(f"/my/deadlines/{others.id}").status_code, 404)
