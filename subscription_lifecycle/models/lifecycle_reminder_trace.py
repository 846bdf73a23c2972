from urllib.parse import urlsplit

import lxml.html
from markupsafe import escape
from psycopg2.errors import DeadlockDetected, UniqueViolation

from odoo import api, fields, models
from odoo.tools import mute_logger
from odoo.tools.urls import urljoin

from ..lib.reminder_attribution import Reminder, attribute
from .link_tracker import REMINDER_LABEL

# How many times reminders' short links draw their codes before giving up (see ``_create_trackers``).
TRACKER_ATTEMPTS = 5
# A reminder just queued: not delivered, clicked or renewed yet.
NEW_TRACE_COUNTS = {
    "delivered_count": 0,
    "date_clicked": False,
    "clicked_count": 0,
    "click_rate": 0.0,
    "renewed_count": 0,
    "renewal_rate": 0.0,
}


def _path_and_query(url):
    parts = urlsplit(url or "")
    return parts.path, parts.query


class LifecycleReminderTrace(models.Model):
    """One renewal reminder emailed to a customer, and what came of it: delivered, clicked, renewed.

    Written by the engine when an email step of a reminder workflow queues its
    email (never in test mode: test emails reach staff, not customers). Its
    renew link is a ``link_tracker`` short link of its own, so a click counts
    for this reminder; the renewal it led to is attributed by
    ``lib.reminder_attribution`` when the renewal is recorded.
    """

    _name = "lifecycle.reminder.trace"
    _description = "Reminder sent"
    _order = "date_sent desc, id desc"
    _rec_name = "deadline_id"

    run_id = fields.Many2one("lifecycle.workflow.run", required=True, index=True, ondelete="cascade", readonly=True)
    workflow_id = fields.Many2one("lifecycle.workflow", required=True, index=True, ondelete="cascade", readonly=True)
    step_id = fields.Many2one("lifecycle.workflow.step", ondelete="set null", readonly=True)
    deadline_id = fields.Many2one("lifecycle.deadline", required=True, index=True, ondelete="cascade", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    reminder_offset = fields.Integer(string="Rung (days before expiry)", readonly=True, aggregator=False)
    date_expiry = fields.Date(string="Expiry announced", readonly=True)
    variant = fields.Selection([("a", "A"), ("b", "B")], default="a", required=True, readonly=True)
    mail_message_id = fields.Many2one("mail.message", ondelete="set null", index="btree_not_null", readonly=True)
    link_tracker_id = fields.Many2one("link.tracker", string="Tracked link", ondelete="set null", readonly=True)
    date_sent = fields.Datetime(string="Sent on", required=True, readonly=True)
    date_clicked = fields.Datetime(string="First click", compute="_compute_clicked", store=True)
    renewal_id = fields.Many2one("lifecycle.deadline.renewal", ondelete="set null", readonly=True)
    date_renewed = fields.Datetime(string="Renewed on", readonly=True)
    days_to_renewal = fields.Float(
        string="Days to renewal", readonly=True, aggregator="avg", help="From the reminder's send to the renewal."
    )
    sent_count = fields.Integer(string="Sent", default=1, readonly=True)
    delivered_count = fields.Integer(string="Delivered", compute="_compute_delivered", store=True)
    clicked_count = fields.Integer(string="Clicked", compute="_compute_clicked", store=True)
    renewed_count = fields.Integer(string="Renewed", compute="_compute_renewed", store=True)
    # 0 or 100 per reminder: their average over a group is the group's rate
    click_rate = fields.Float(string="Click rate (%)", compute="_compute_clicked", store=True, aggregator="avg")
    renewal_rate = fields.Float(string="Renewal rate (%)", compute="_compute_renewed", store=True, aggregator="avg")

    @api.depends("mail_message_id.notification_ids.notification_status")
    def _compute_delivered(self):
        for trace in self:
            statuses = trace.mail_message_id.sudo().notification_ids.mapped("notification_status")
            trace.delivered_count = int("sent" in statuses)

    @api.depends("link_tracker_id.link_click_ids")
    def _compute_clicked(self):
        for trace in self:
            clicks = trace.link_tracker_id.sudo().link_click_ids
            trace.date_clicked = min(clicks.mapped("create_date")) if clicks else False
            trace.clicked_count = int(bool(clicks))
            trace.click_rate = 100.0 * trace.clicked_count

    @api.depends("renewal_id")
    def _compute_renewed(self):
        for trace in self:
            trace.renewed_count = int(bool(trace.renewal_id))
            trace.renewal_rate = 100.0 * trace.renewed_count

    @api.model
    def _record_sent(self, step, runs, records, mails, variants):
        """Trace the reminders ``step`` just queued, one per run (``records``, ``mails``, ``variants`` in its order).

        Each email's renew link (the deadline's portal link) becomes a short
        link of its own; the email's body is rewritten to use it.
        """
        rows = [
            (run, record, mail)
            for run, record, mail in zip(runs, records, mails, strict=True)
            if run.event_id.event_type == "reminder_due" and record._name == "lifecycle.deadline"
        ]
        variant_of = dict(zip(runs, variants, strict=True))
        if not rows:
            return self.browse()
        trackers = {}
        found = {}
        for run, record, mail in rows:
            found[run] = self._renew_links(record, mail.body_html)
        with_link = [(run, record, mail) for run, record, mail in rows if found[run]]
        created = self._create_trackers(
            [
                {
                    "url": found[run][0].get("href"),
                    "title": mail.subject or record.display_name,
                    # unique per email, so that each email has a code of its own
                    "label": f"{REMINDER_LABEL}{run.id}-{step.id}",
                }
                for run, record, mail in with_link
            ]
        )
        short_urls = self._short_urls(created)
        for (run, _record, mail), tracker in zip(with_link, created, strict=True):
            trackers[run] = tracker
            mail.body_html = self._with_short_links(mail.body_html, found[run], short_urls[tracker])
        # the transaction's time, as the renewal's and the click's create dates are
        now = self.env.cr.now()
        return self.sudo().create(
            [
                {
                    "run_id": run.id,
                    "workflow_id": step.workflow_id.id,
                    "step_id": step.id,
                    "deadline_id": record.id,
                    "partner_id": record.partner_id.id,
                    "company_id": record.company_id.id,
                    "reminder_offset": run.event_id.reminder_offset,
                    "date_expiry": run.event_id.date_expiry,
                    "mail_message_id": mail.mail_message_id.id,
                    "link_tracker_id": trackers[run].id if run in trackers else False,
                    "date_sent": now,
                    "variant": variant_of[run],
                    # what the computes would find in a new reminder, given so that they do not run
                    **NEW_TRACE_COUNTS,
                }
                for run, record, mail in rows
            ]
        )

    @api.model
    def _create_trackers(self, vals_list):
        """Create the link trackers of ``vals_list``; draw their codes again if another worker took one meanwhile.

        link_tracker draws random codes and checks them against the committed
        ones only: two engine workers sending reminders at once can draw the
        same code, and the second insert fails once the first worker commits.
        Its savepoint is rolled back and new codes drawn, which now avoid the
        committed ones (Odoo's own way with a unique key, as mail presence);
        two workers each waiting for the other's code likewise.
        """
        attempt = 1
        while True:
            try:
                with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                    return self.env["link.tracker"].sudo().create(vals_list)
            except (UniqueViolation, DeadlockDetected):
                if attempt == TRACKER_ATTEMPTS:
                    raise
                attempt += 1

    @api.model
    def _short_urls(self, trackers):
        """``{tracker: its short URL}``, with the codes of all ``trackers`` read in one query.

        As link_tracker makes it (the host, then the tracker's latest code),
        whose ``code`` field reads each tracker's code with a query of its
        own: a thousand queries for a thousand reminders.
        """
        codes = {
            code.link_id: code.code
            for code in self.env["link.tracker.code"]
            .sudo()
            .search_fetch([("link_id", "in", trackers.ids)], ["link_id", "code"], order="id")
        }
        return {tracker: urljoin(tracker.short_url_host, codes[tracker]) for tracker in trackers}

    @api.model
    def _renew_links(self, deadline, html):
        """The ``<a>`` nodes of ``html`` that open ``deadline``'s portal page (its renew link), in a parsed tree."""
        if not html:
            return []
        target = _path_and_query(deadline.get_portal_url())
        root = lxml.html.fromstring(html)
        return [node for node in root.iter("a") if _path_and_query(node.get("href")) == target]

    @api.model
    def _with_short_links(self, html, nodes, short_url):
        """``html`` with the links of ``nodes`` (its renew links) replaced by ``short_url``, the rest as it was.

        The attribute is replaced in the text rather than the parsed tree written
        back: lxml would wrap a fragment in ``<html><body>``.
        """
        text = str(html)  # Markup.replace would escape the quotes of the attribute
        for href in {node.get("href") for node in nodes}:
            text = text.replace(f'href="{escape(href)}"', f'href="{escape(short_url)}"')
        return text

    @api.model
    def _attribute(self, renewals):
        """Count each of ``renewals`` for the reminder of its expiry cycle the attribution rule names."""
        traces = self.sudo().search(
            [("deadline_id", "in", renewals.deadline_id.ids), ("renewal_id", "=", False)], order="id"
        )
        for renewal in renewals:
            cycle = traces.filtered(
                lambda trace, renewal=renewal: (
                    trace.deadline_id == renewal.deadline_id and trace.date_expiry == renewal.date_from
                )
            )
            renewed_at = renewal.create_date
            trace = attribute(
                renewed_at,
                [Reminder(trace, trace.date_sent, trace.date_clicked or None, trace.date_expiry) for trace in cycle],
            )
            if trace:
                trace.write(
                    {
                        "renewal_id": renewal.id,
                        "date_renewed": renewed_at,
                        "days_to_renewal": (renewed_at - trace.date_sent).total_seconds() / 86400,
                    }
                )
