import base64
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from odoo import http
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.sms.tests.common import SMSCase

from ..lib.messaging import FAILED, SENT, Result
from .common import LifecycleCommon
from .test_engine import NOW, TODAY, EngineCommon
from .test_whatsapp import WHATSAPP_SETTINGS
from .twilio_local import TWILIO_NUMBER, TWILIO_SID, LocalTwilio, twilio_settings
from .webhook_server import WebhookServer


class ChannelCommon(EngineCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sms_template = cls.env.ref("subscription_lifecycle.sms_template_reminder_3")
        cls.de = cls.env.ref("base.de")
        cls.customer.write({"phone": "0151 23456789", "country_id": cls.de.id})
        cls.ladder.active = False  # the shipped reminders write too: only the workflows of each test here

    def _sms_sender(self, now=NOW):
        """What the outbox's sender does with the queued SMS once its claim is committed, less the commits."""
        messages = self.env["lifecycle.message"].sudo().search([("channel", "=", "sms"), ("state", "=", "queued")])
        messages._record([], now, messages._send_sms())

    def _customers(self, *values):
        return self.env["res.partner"].create(
            [{"name": f"SMS customer {index}", **vals} for index, vals in enumerate(values)]
        )

    def _due_in_3_days(self, partners):
        return self.env["lifecycle.deadline"].create(
            [
                {
                    "partner_id": partner.id,
                    "product_id": self.yearly.id,
                    "amount": 1200.0,
                    "date_start": TODAY - timedelta(days=362),
                    "date_expiry": TODAY + timedelta(days=3),
                    "state": "active",
                }
                for partner in partners
            ]
        )

    def _sms_workflow(self, partners, *steps):
        return self._workflow(
            "reminder_due",
            list(steps) or [{"step_type": "sms", "sms_template_id": self.sms_template.id}],
            reminder_offset=3,
            domain=f"[('partner_id', 'in', {partners.ids})]",
        )

    def _logs(self, workflow, deadline):
        run = workflow.run_ids.filtered(lambda run: run.deadline_id == deadline)
        return run, run.log_ids.sorted("id").mapped("message")

    def _sms_of(self, deadline):
        message = deadline.message_ids.filtered(lambda message: message.message_type == "sms")
        return message, self.env["sms.sms"].sudo().search([("mail_message_id", "in", message.ids)])


@tagged("post_install", "-at_install")
class TestSmsStep(ChannelCommon, SMSCase):
    """Issue 12, item 1: SMS through Odoo's SMS queue and the company's provider (here Odoo IAP)."""

    def test_the_3_day_reminder_goes_by_sms_in_e164_through_iap_and_shows_in_the_chatter(self):
        workflow = self._sms_workflow(self.customer)
        deadline = self._due_in_3_days(self.customer)
        with self.mockSMSGateway():
            self._day(0)
            run, logs = self._logs(workflow, deadline)
            self.assertEqual(run.state, "done")
            self.assertRegex(logs[-1], r"SMS \d+ queued for \+4915123456789\.")
            self.assertEqual(self._sms, [], "nothing leaves with the engine's transaction")
            message, sms = self._sms_of(deadline)
            self.assertEqual((sms.state, sms.number, sms.partner_id), ("process", "+4915123456789", self.customer))
            self.assertIn("Maintenance contract expires on", sms.body)
            self.assertIn(f"/my/deadlines/{deadline.id}?access_token=", sms.body)
            self._sms_sender()
        self.assertSMSIapSent(["+4915123456789"], content="Maintenance contract expires on")
        self.assertEqual(sms.state, "pending", "sent, waiting for the delivery report")
        notification = message.notification_ids
        self.assertEqual(
            (notification.notification_type, notification.notification_status, notification.res_partner_id),
            ("sms", "pending", self.customer),
            "the chatter shows the SMS's delivery status",
        )

    def _queue_reminder_sms(self):
        """The customer's 3-day reminder queued by SMS: its workflow, deadline, chatter message, SMS and outbox row."""
        workflow = self._sms_workflow(self.customer)
        deadline = self._due_in_3_days(self.customer)
        self._day(0)
        message, sms = self._sms_of(deadline)
        outbox = self.env["lifecycle.message"].sudo().search([("workflow_run_id", "in", workflow.run_ids.ids)])
        self.assertEqual((outbox.channel, outbox.state, outbox.sms_id), ("sms", "queued", sms))
        return workflow, deadline, message, sms, outbox

    def test_odoos_sms_cron_leaves_the_queued_sms_to_the_outbox_which_sends_it_once(self):
        with self.mockSMSGateway():
            _workflow, _deadline, message, sms, outbox = self._queue_reminder_sms()
            self.env["sms.sms"]._process_queue()  # Odoo's SMS cron job
            self.assertEqual(self._sms, [], "Odoo's SMS cron does not send it")
            self.assertEqual(sms.state, "process")
            self._sms_sender()
            self.env["sms.sms"]._process_queue()
            self._sms_sender()
        self.assertSMSIapSent(["+4915123456789"], content="Maintenance contract expires on")
        self.assertEqual(len(self._sms), 1, "sent once")
        self.assertEqual((outbox.state, outbox.date_sent), ("sent", NOW))
        self.assertEqual(message.notification_ids.notification_status, "pending")

    def test_an_sms_whose_sender_died_is_unknown_in_the_chatter_and_leaves_again_only_when_a_manager_says_so(self):
        with self.mockSMSGateway():
            workflow, deadline, message, sms, outbox = self._queue_reminder_sms()
            # a sender claimed it, committed, and died before the provider's answer was recorded
            outbox.write({"state": "sending", "attempt_count": 1, "next_attempt_at": NOW})
            with mute_logger("odoo.addons.subscription_lifecycle.models.lifecycle_message"):
                self.env["lifecycle.message"]._expire_leases(NOW + timedelta(seconds=1))
            self.env["sms.sms"]._process_queue()
            self._sms_sender()
            self.assertEqual(self._sms, [], "neither Odoo's cron nor the outbox sends it again")
            self.assertEqual(outbox.state, "unknown")
            self.assertEqual((sms.state, sms.failure_type), ("error", "unknown"))
            notification = message.notification_ids
            self.assertEqual(notification.notification_status, "exception", "the chatter shows it failed")
            self.assertIn("stopped before the service answered", notification.failure_reason)
            self.assertRegex(self._logs(workflow, deadline)[1][-1], r"SMS message to \+4915123456789: outcome unknown")

            outbox.with_user(self.lc_manager).action_send_again()
            self.assertEqual(
                (outbox.state, sms.state, notification.notification_status), ("queued", "process", "ready")
            )
            self._sms_sender()
        self.assertSMSIapSent(["+4915123456789"])
        self.assertEqual((outbox.state, sms.state, notification.notification_status), ("sent", "pending", "pending"))

    def test_recording_a_batchs_outcomes_takes_as_many_queries_for_12_messages_as_for_3(self):
        def queries_for(count):
            messages = (
                self.env["lifecycle.message"]
                .sudo()
                .create(
                    [
                        {"channel": "sms", "company_id": self.company.id, "recipient": f"+4915123456{index:03d}"}
                        for index in range(count)
                    ]
                )
            )
            half = count // 2
            results = {message.id: Result(SENT) for message in messages[:half]}
            results.update({message.id: Result(FAILED, error="Wrong Number Format") for message in messages[half:]})
            self.env.flush_all()
            before = self.env.cr.sql_log_count
            messages._record([], NOW, results)
            self.env.flush_all()
            self.assertEqual(messages.mapped("state"), ["sent"] * half + ["failed"] * (count - half))
            return self.env.cr.sql_log_count - before

        self.assertEqual(queries_for(3), queries_for(12), "the queries do not grow with the batch")

    def test_blacklisted_invalid_and_missing_numbers_skip_the_sms_and_the_runs_go_on(self):
        france = self.env.ref("base.fr")
        partners = self._customers(
            {"phone": "06 12 34 56 78", "country_id": france.id},
            {"phone": "+33 6 99 88 77 66", "country_id": france.id},
            {"phone": "12345", "country_id": france.id},
            {"country_id": france.id},
        )
        self.env["phone.blacklist"].sudo().add("+33699887766")
        workflow = self._sms_workflow(
            partners,
            {"step_type": "sms", "sms_template_id": self.sms_template.id},
            {"step_type": "activity", "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id},
        )
        deadlines = self._due_in_3_days(partners)
        with self.mockSMSGateway():
            self._day(0)
        expected = [
            r"SMS \d+ queued for \+33612345678\.",
            r"No SMS to SMS customer 1: \+33699887766 is on the blacklist\.",
            r"No SMS to SMS customer 2: 12345 is not a valid phone number\.",
            r"No SMS to SMS customer 3: no phone number\.",
        ]
        for deadline, pattern in zip(deadlines, expected, strict=True):
            run, logs = self._logs(workflow, deadline)
            self.assertRegex(logs[-2], pattern)
            self.assertEqual(run.state, "done", "the run goes on after a skipped SMS")
            self.assertEqual(len(deadline.activity_ids), 1)
        self.assertEqual(self._sms_of(deadlines)[1].number, "+33612345678", "one SMS, to the valid number only")

    def test_a_local_number_is_read_in_the_company_country_when_the_customer_has_none(self):
        self.env.company.country_id = self.env.ref("base.es")
        customer = self._customers({"phone": "612 34 56 78"})
        workflow = self._sms_workflow(customer)
        deadline = self._due_in_3_days(customer)
        with self.mockSMSGateway():
            self._day(0)
        self.assertRegex(self._logs(workflow, deadline)[1][-1], r"queued for \+34612345678\.")

    def test_the_sms_step_queries_do_not_grow_with_the_runs(self):
        def queries_for(count):
            partners = self._customers(
                *({"phone": f"0151 2345{index:04d}", "country_id": self.de.id} for index in range(count))
            )
            self._sms_workflow(partners)
            deadlines = self._due_in_3_days(partners)
            self.env["lifecycle.deadline"]._cron_schedule(now=NOW)
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self.Run._cron_engine(now=NOW)
            self.env.flush_all()
            self.assertEqual(len(self._sms_of(deadlines)[1]), count)
            return self.env.cr.sql_log_count - before

        with self.mockSMSGateway():
            queries_for(2)  # the first batch fills Odoo's caches (templates, views, ...)
            few, many = queries_for(3), queries_for(12)
        # not equal to the query: a cache entry more or less from one batch to the next
        self.assertLessEqual(abs(many - few), 2, f"{few} queries for 3 SMS, {many} for 12")


@tagged("post_install", "-at_install")
class TestSmsTwilio(LocalTwilio, ChannelCommon):
    """Issue 12, item 1: a company that chose Twilio sends through Twilio's REST API (a local server here)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = WebhookServer()
        cls.addClassCleanup(cls.twilio.stop)
        cls.company.sudo().write(twilio_settings(cls.de))

    def setUp(self):
        super().setUp()
        self.twilio.requests.clear()

    def _send(self):
        workflow = self._sms_workflow(self.customer)
        deadline = self._due_in_3_days(self.customer)
        self._day(0)
        self.assertRegex(self._logs(workflow, deadline)[1][-1], r"SMS \d+ queued for \+4915123456789\.")
        self.assertEqual(self.twilio.requests, [], "nothing leaves with the engine's transaction")
        self._sms_sender()
        [received] = self.twilio.requests
        self.assertEqual(received.path, f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
        credentials = base64.b64encode(f"{TWILIO_SID}:twilio-token".encode()).decode()
        self.assertEqual(received.headers["authorization"], f"Basic {credentials}")
        form = parse_qs(received.body.decode())
        self.assertEqual((form["To"], form["From"]), (["+4915123456789"], [TWILIO_NUMBER]))
        self.assertIn("Maintenance contract expires on", form["Body"][0])
        return self._sms_of(deadline)

    def test_with_twilio_chosen_the_sms_goes_to_twilios_api_and_its_id_is_kept(self):
        self.twilio.answer(
            201, body={"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+4915123456789"}
        )
        message, sms = self._send()
        self.assertEqual(sms.state, "pending", "sent, waiting for Twilio's status callback")
        self.assertEqual(sms.sms_twilio_sid, "SM0123456789abcdef0123456789abcdef")
        self.assertEqual(message.notification_ids.notification_status, "pending")

    def test_twilio_refusing_the_number_shows_the_sms_failed_in_the_chatter(self):
        self.twilio.answer(
            400,
            body={
                "code": 21211,
                "message": "The 'To' number +4915123456789 is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
        )
        message, sms = self._send()
        self.assertEqual((sms.state, sms.failure_type), ("error", "sms_number_format"))
        notification = message.notification_ids
        self.assertEqual(notification.notification_status, "exception")
        self.assertEqual(notification.failure_reason, "The 'To' number +4915123456789 is not a valid phone number.")


@tagged("post_install", "-at_install")
class TestMessageStep(ChannelCommon, SMSCase):
    """Issue 12, item 4: the customer's preferred channel first, then the step's fallback order."""

    def _message_workflow(self, partners, order):
        return self._sms_workflow(
            partners,
            {
                "step_type": "message",
                "channel_fallback": order,
                "mail_template_id": self.env.ref("subscription_lifecycle.mail_template_reminder_3").id,
                "sms_template_id": self.sms_template.id,
            },
            {"step_type": "activity", "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id},
        )

    def test_the_preferred_channel_is_used_when_the_customer_is_reachable_on_it(self):
        partners = self._customers(
            {
                "phone": "0151 23456789",
                "country_id": self.de.id,
                "email": "sms@example.com",
                "lifecycle_channel": "sms",
            },
            {"phone": "0151 23456780", "country_id": self.de.id, "email": "mail@example.com"},
        )
        workflow = self._message_workflow(partners, "sms, email")
        by_sms, by_email = self._due_in_3_days(partners)
        with self.mockSMSGateway():
            self._day(0)
        self.assertRegex(self._logs(workflow, by_sms)[1][-2], r"^By SMS\. SMS \d+ queued for \+4915123456789\.$")
        self.assertEqual(self._sms_of(by_sms)[1].number, "+4915123456789")
        self.assertRegex(self._logs(workflow, by_email)[1][-2], r"^By Email\. Email \d+ queued for SMS customer 1\.$")
        self.assertFalse(self._sms_of(by_email)[1], "email is this customer's choice, phone or not")
        self.assertEqual(self._mails(by_email).recipient_ids, partners[1])

    def test_an_unreachable_preferred_channel_falls_back_in_the_steps_order(self):
        partners = self._customers(
            {"email": "nophone@example.com", "lifecycle_channel": "sms"},
            {"phone": "06 12 34 56 78", "country_id": self.env.ref("base.fr").id, "lifecycle_channel": "email"},
        )
        workflow = self._message_workflow(partners, "whatsapp, sms, email")
        no_phone, no_email = self._due_in_3_days(partners)
        with self.mockSMSGateway():
            self._day(0)
        log = self._logs(workflow, no_phone)[1][-2]
        self.assertRegex(log, r"^By Email; not by SMS: no phone number; WhatsApp: [^;]+\. Email \d+ queued for")
        self.assertEqual(self._mails(no_phone).recipient_ids, partners[0])
        self.assertFalse(self._sms_of(no_phone)[1])
        log = self._logs(workflow, no_email)[1][-2]
        self.assertRegex(log, r"^By SMS; not by Email: no valid email address; WhatsApp: [^;]+\. SMS \d+ queued")
        self.assertEqual(self._sms_of(no_email)[1].number, "+33612345678")
        self.assertFalse(self._mails(no_email))

    def test_whatsapp_preferred_goes_through_the_outbox_and_an_unlinked_telegram_falls_back(self):
        self.company.sudo().write(WHATSAPP_SETTINGS)
        partners = self._customers(
            {"phone": "0151 23456789", "country_id": self.de.id, "lifecycle_channel": "whatsapp"},
            {
                "phone": "0151 23456780",
                "country_id": self.de.id,
                "email": "t@example.com",
                "lifecycle_channel": "telegram",
            },
        )
        workflow = self._message_workflow(partners, "whatsapp, email")
        workflow.step_ids[0].write({"whatsapp_template": "renewal_reminder", "whatsapp_language": "de"})
        by_whatsapp, unlinked = self._due_in_3_days(partners)
        with self.mockSMSGateway():
            self._day(0)
        self.assertRegex(self._logs(workflow, by_whatsapp)[1][-2], r"^By WhatsApp\. ")
        message = self.env["lifecycle.message"].search([("partner_id", "=", partners[0].id)])
        self.assertEqual((message.channel, message.recipient, message.state), ("whatsapp", "+4915123456789", "queued"))
        self.assertRegex(self._logs(workflow, unlinked)[1][-2], r"^By WhatsApp; not by Telegram: ")
        self.assertFalse(self._mails(by_whatsapp), "reached on WhatsApp: no email as well")

    def test_a_customer_reachable_nowhere_is_logged_and_the_run_goes_on(self):
        partner = self._customers({"phone": "+33 6 99 88 77 66", "lifecycle_channel": "telegram"})
        self.env["phone.blacklist"].sudo().add("+33699887766")
        workflow = self._message_workflow(partner, "sms, email")
        deadline = self._due_in_3_days(partner)
        with self.mockSMSGateway():
            self._day(0)
        run, logs = self._logs(workflow, deadline)
        self.assertRegex(
            logs[-2],
            r"^No message sent, the customer cannot be reached: Telegram: [^;]+; "
            r"SMS: \+33699887766 is on the blacklist; Email: no valid email address\.$",
        )
        self.assertEqual(run.state, "done", "the next steps still run: the salesperson calls")
        self.assertEqual(len(deadline.activity_ids), 1)
        self.assertFalse(self._sms_of(deadline)[1] or self._mails(deadline))

    def test_a_fallback_order_that_is_not_a_list_of_channels_is_refused(self):
        self.assertRefused(
            r"The fallback order sms, fax is not a list of channels",
            self._message_workflow,
            self.customer,
            "sms, fax",
        )


@tagged("post_install", "-at_install")
class TestChannelPortal(LifecycleCommon, HttpCase):
    """Issue 12, item 4: the customer chooses their channel on the portal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(cls.env, login="chan_portal", groups="base.group_portal", name="Cho Channel")

    def _choose(self, channel):
        data = {"channel": channel, "csrf_token": http.Request.csrf_token(self)}
        return self.url_open("/my/deadlines/channel", data=data, allow_redirects=False)

    def test_the_customer_chooses_their_preferred_channel_on_the_portal(self):
        self.authenticate("chan_portal", "chan_portal")
        page = self.url_open("/my/deadlines")
        self.assertIn('<option value="email" selected="True">Email</option>', page.text)
        answer = self._choose("sms")
        self.assertEqual((answer.status_code, urlsplit(answer.headers["Location"]).path), (303, "/my/deadlines"))
        self.assertEqual(self.portal_user.partner_id.lifecycle_channel, "sms")
        self.assertIn('<option value="sms" selected="True">SMS</option>', self.url_open("/my/deadlines").text)

    def test_a_channel_that_is_not_offered_is_refused_and_changes_nothing(self):
        self.authenticate("chan_portal", "chan_portal")
        answer = self._choose("fax")
        self.assertEqual(answer.status_code, 400)
        self.assertIn("Choose one of the channels offered", answer.text)
        self.assertEqual(self.portal_user.partner_id.lifecycle_channel, "email")
