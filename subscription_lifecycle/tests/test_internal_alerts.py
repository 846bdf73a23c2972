from odoo.tests import new_test_user, tagged

from .test_engine import NOW, EngineCommon


@tagged("post_install", "-at_install")
class TestInternalAlerts(EngineCommon):
    """Issue 12, item 5: staff hear of what matters in Discuss or by email, the customer never does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sales = cls.env.ref("subscription_lifecycle.discuss_channel_sales")
        cls.high_value = cls.env.ref("subscription_lifecycle.workflow_high_value_cancellation")
        cls.customer.email = "azure@example.com"

    def _channel_messages(self):
        return self.sales.message_ids.filtered(lambda message: message.message_type == "comment")

    def _cancel(self, amount):
        deadline = self._deadline(amount=amount)
        deadline.with_user(self.lc_user).action_cancel()
        self.Run._cron_engine(now=NOW)
        return deadline

    def test_a_high_value_cancellation_posts_once_in_sales_with_a_link_and_the_values(self):
        self.high_value.with_user(self.lc_manager).active = True
        deadline = self._cancel(1500.0)
        message = self._channel_messages()
        self.assertEqual(len(message), 1)
        self.assertEqual(message.author_id, self.env.ref("base.partner_root"), "posted as OdooBot")
        self.assertIn("Azure Interior cancelled", message.body)
        self.assertIn(deadline.display_name, message.body)
        self.assertIn("1,500.00", message.body)
        self.assertIn(f'href="{deadline.get_base_url()}/odoo/lifecycle.deadline/{deadline.id}"', message.body)
        self.assertEqual(self.high_value.run_ids.log_ids.mapped("message"), ["Posted in #sales."])

    def test_cancellations_run_together_post_one_message_each_with_its_own_values(self):
        self.high_value.with_user(self.lc_manager).active = True
        other = self.env["res.partner"].create({"name": "Wood Corner"})
        deadlines = self._deadline(amount=2000.0) | self._deadline(amount=3000.0, partner_id=other.id)
        deadlines.with_user(self.lc_user).action_cancel()
        self.Run._cron_engine(now=NOW)
        bodies = sorted(self._channel_messages().mapped("body"))
        self.assertEqual(len(bodies), 2)
        self.assertIn("Azure Interior cancelled", bodies[0])
        self.assertIn("2,000.00", bodies[0])
        self.assertIn(f"/odoo/lifecycle.deadline/{deadlines[0].id}", bodies[0])
        self.assertIn("Wood Corner cancelled", bodies[1])
        self.assertIn("3,000.00", bodies[1])
        self.assertIn(f"/odoo/lifecycle.deadline/{deadlines[1].id}", bodies[1])

    def test_a_low_value_cancellation_posts_nothing(self):
        self.high_value.with_user(self.lc_manager).active = True
        self._cancel(900.0)
        self.assertFalse(self._channel_messages())
        self.assertFalse(self.high_value.run_ids)

    def test_the_shipped_workflow_is_off_and_posts_nothing(self):
        self._cancel(1500.0)
        self.assertFalse(self._channel_messages())

    def test_a_chat_is_not_a_channel_for_alerts(self):
        chat = self.env["discuss.channel"]._get_or_create_chat([self.lc_manager.partner_id.id])
        self.assertRefused(
            "is not complete",
            self._workflow,
            "deadline_cancelled",
            [{"step_type": "discuss", "discuss_channel_id": chat.id, "alert_body": "Cancelled"}],
        )

    def test_notify_users_emails_the_chosen_users_and_not_the_customer(self):
        other = new_test_user(self.env, login="lc_other", groups="base.group_user", email="other@yourcompany.example")
        self.lc_manager.email = "max@yourcompany.example"
        workflow = self._workflow(
            "deadline_cancelled",
            [
                {
                    "step_type": "notify_users",
                    "alert_user_ids": [self.lc_manager.id],
                    "alert_body": "{{ object.partner_id.name }} left",
                }
            ],
        )
        deadline = self._cancel(1500.0)
        alert = self.env["mail.message"].search(
            [("model", "=", deadline._name), ("res_id", "=", deadline.id), ("body", "ilike", "Azure Interior left")]
        )
        self.assertEqual(alert.message_type, "user_notification", "not in the chatter")
        self.assertNotIn(alert, deadline.message_ids)
        self.assertEqual(alert.notification_ids.res_partner_id, self.lc_manager.partner_id)
        mail = self.env["mail.mail"].search([("mail_message_id", "=", alert.id)])
        self.assertEqual(mail.recipient_ids, self.lc_manager.partner_id, f"not {other.name} nor the customer")
        self.assertIn(f"/odoo/lifecycle.deadline/{deadline.id}", mail.body_html)
        self.assertEqual(workflow.run_ids.state, "done")

    def test_a_portal_user_is_refused_on_a_notify_step(self):
        portal = new_test_user(self.env, login="lc_portal", groups="base.group_portal", name="Portal Paula")
        self.assertRefused(
            "internal users only; these are not: Portal Paula",
            self._workflow(
                "deadline_cancelled",
                [{"step_type": "notify_users", "alert_user_ids": [self.lc_manager.id], "alert_body": "Left"}],
            )
            .with_user(self.lc_manager)
            .step_ids.write,
            {"alert_user_ids": [(4, portal.id)]},
        )
