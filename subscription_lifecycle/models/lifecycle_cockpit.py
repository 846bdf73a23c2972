from collections.abc import Callable
from dataclasses import dataclass

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools.translate import LazyGettext, LazyTranslate

from ..lib.cockpit import Periods, rate, trend
from ..lib.reminder_attribution import median_days

_lt = LazyTranslate(__name__)

# The most rows each list of the dashboard shows; "View all" opens the rest.
UPCOMING_LIMIT = 10
TODO_LIMIT = 20


def _days(field_name, window):
    return [(field_name, ">=", window.first), (field_name, "<=", window.last)]


def _instants(field_name, window):
    start, end = window.instants()
    return [(field_name, ">=", start), (field_name, "<", end)]


@dataclass(frozen=True, eq=False)
class Figure:
    """The records of ``model`` that ``domain(window)`` selects: how many, and the sum of ``amount``.

    ``sign`` -1 subtracts the figure from the others of its KPI (a balance
    taken back to an earlier day).
    """

    model: str
    domain: Callable
    amount: str = ""
    sign: int = 1

    def measure(self, cockpit, window, cache):
        """``(count, amount)``: amounts converted into the current company's currency.

        ``cache`` holds what this call of the dashboard measured already: a
        figure shared by two KPIs is read once.
        """
        if (self, window) not in cache:
            cache[self, window] = self._measure(cockpit, window)
        return cache[self, window]

    def _measure(self, cockpit, window):
        records = cockpit.env[self.model]
        domain = self.domain(window)
        if not self.amount:
            [(count,)] = records._read_group(domain, aggregates=["__count"])
            return self.sign * count, 0.0
        count, amount = 0, 0.0
        for currency, group_count, group_amount in records._read_group(
            domain, ["currency_id"], ["__count", f"{self.amount}:sum"]
        ):
            count += group_count
            amount += cockpit._to_company_currency(group_amount, currency)
        return self.sign * count, self.sign * amount


@dataclass(frozen=True, eq=False)
class Kpi:
    """One figure of the dashboard, its trend, and the list it opens.

    ``figures`` are read over the window ``period`` of ``lib.cockpit.Periods``
    and added up; ``previous`` over the window before it (default: the same
    figures), unless ``compare`` is off. The trend compares ``measure``
    ("count" or "amount"). A click opens the list ``action`` (an XML id)
    filtered on ``list_domain`` (default: the first figure's domain), so it
    shows what is counted.
    """

    key: str
    label: LazyGettext
    help: LazyGettext
    action: str
    period: str
    figures: tuple
    previous: tuple = ()
    measure: str = "count"
    compare: bool = True
    up_is_good: bool = True
    list_domain: Callable | None = None

    def compute(self, cockpit, periods, cache):
        window = getattr(periods, self.period)
        count, amount = self._add(cockpit, self.figures, window, cache)
        value = amount if self.measure == "amount" else count
        previous = None
        if self.compare:
            previous_count, previous_amount = self._add(cockpit, self.previous or self.figures, window.before(), cache)
            previous = previous_amount if self.measure == "amount" else previous_count
        return {"count": count, "amount": amount, "value": value, "trend": trend(value, previous)}

    def readable(self, cockpit):
        """Whether the user may read what this KPI counts: the dashboard leaves out what they cannot see."""
        return all(cockpit.env[figure.model].has_access("read") for figure in (*self.figures, *self.previous))

    @staticmethod
    def _add(cockpit, figures, window, cache):
        measures = [figure.measure(cockpit, window, cache) for figure in figures]
        return sum(count for count, _amount in measures), sum(amount for _count, amount in measures)

    def list_for(self, periods):
        """The domain of the list behind this KPI."""
        return (self.list_domain or self.figures[0].domain)(getattr(periods, self.period))


@dataclass(frozen=True, eq=False)
class RateKpi(Kpi):
    """A share in percent: the first figure against the sum of all of them."""

    measure: str = "rate"

    def compute(self, cockpit, periods, cache):
        window = getattr(periods, self.period)
        current = self._rate(cockpit, window, cache)
        previous = self._rate(cockpit, window.before(), cache)
        return {
            **current,
            "trend": trend(current["value"], previous["value"]) if previous["value"] is not None else None,
        }

    def _rate(self, cockpit, window, cache):
        measures = [figure.measure(cockpit, window, cache) for figure in self.figures]
        part = measures[0][0]
        return {"count": part, "amount": measures[0][1], "value": rate(part, sum(count for count, _ in measures))}


# What fell due in a window and was renewed from it (whenever), and what was not.
RENEWED_FROM = Figure("lifecycle.deadline.renewal", lambda window: _days("date_from", window), "amount")
NOT_RENEWED = Figure(
    "lifecycle.deadline",
    lambda window: [("state", "in", ("active", "expired", "closed")), *_days("date_expiry", window)],
    "amount",
)

# Active deadlines expiring in a window: due; and those of them someone is on.
DUE = Figure("lifecycle.deadline", lambda window: [("state", "=", "active"), *_days("date_expiry", window)], "amount")
DUE_FOLLOWED = Figure(
    "lifecycle.deadline",
    lambda window: [*DUE.domain(window), ("activity_ids", "!=", False)],
    "amount",
    sign=-1,
)

# The dashboard's KPIs, in the order shown. A new one is one entry here.
KPIS = (
    Kpi(
        "due",
        _lt("Due in 30 days"),
        _lt(
            "Active deadlines expiring from today to 29 days from now. Compared with the 30 days before as they "
            "stood then: what expired in those days, renewed since or not."
        ),
        "subscription_lifecycle.lifecycle_deadline_action",
        "ahead",
        (DUE,),
        previous=(
            Figure(
                "lifecycle.deadline",
                lambda window: [("state", "in", ("active", "expired")), *_days("date_expiry", window)],
                "amount",
            ),
            Figure(
                "lifecycle.deadline.renewal",
                lambda window: [*_days("date_from", window), ("create_date", ">=", window.instants()[0])],
                "amount",
            ),
        ),
    ),
    Kpi(
        "renewed",
        _lt("Renewed in 30 days"),
        _lt("Renewals made in the last 30 days, today included, whatever their expiry date."),
        "subscription_lifecycle.lifecycle_deadline_renewal_action",
        "recent",
        (Figure("lifecycle.deadline.renewal", lambda window: _instants("create_date", window), "amount"),),
    ),
    RateKpi(
        "renewal_rate",
        _lt("Renewal rate"),
        _lt(
            "Of the deadlines that expired in the last 30 days (yesterday included), the share renewed from that "
            "expiry, early or late; the others are still active, expired or closed. Cancelled ones do not count."
        ),
        "subscription_lifecycle.lifecycle_deadline_renewal_action",
        "behind",
        (RENEWED_FROM, NOT_RENEWED),
    ),
    Kpi(
        "expired",
        _lt("Expired without renewal"),
        _lt("Deadlines that expired in the last 30 days and are still expired: the amount lost so far."),
        "subscription_lifecycle.lifecycle_deadline_action",
        "behind",
        (
            Figure(
                "lifecycle.deadline",
                lambda window: [("state", "=", "expired"), *_days("date_expiry", window)],
                "amount",
            ),
        ),
        measure="amount",
        up_is_good=False,
    ),
    Kpi(
        "at_risk",
        _lt("Revenue at risk"),
        _lt(
            "Active deadlines expiring in the next 30 days that nobody is on: no activity planned on them. "
            "No trend: past plans are not kept."
        ),
        "subscription_lifecycle.lifecycle_deadline_action",
        "ahead",
        # what is due less what someone is on: the big aggregate is read once, for both KPIs
        (DUE, DUE_FOLLOWED),
        measure="amount",
        compare=False,
        up_is_good=False,
        list_domain=lambda window: [*DUE.domain(window), ("activity_ids", "=", False)],
    ),
    Kpi(
        "wallets",
        _lt("Owed to customers"),
        _lt("Wallet balances: prepaid money the company owes its customers. Compared with 30 days ago."),
        "subscription_lifecycle.lifecycle_wallet_action",
        "recent",
        (Figure("lifecycle.wallet", lambda window: [("balance", ">", 0)], "balance"),),
        previous=(
            Figure("lifecycle.wallet", lambda window: [("balance", ">", 0)], "balance"),
            # the ledger since then, taken back out of today's balances
            Figure(
                "lifecycle.wallet.transaction", lambda window: [("date", ">=", window.instants()[1])], "amount", sign=-1
            ),
        ),
        measure="amount",
    ),
    Kpi(
        "failed_runs",
        _lt("Failed workflow runs"),
        _lt("Automation runs that stopped on an error and wait for someone to retry or cancel them."),
        "subscription_lifecycle.lifecycle_workflow_run_action",
        "recent",
        (Figure("lifecycle.workflow.run", lambda window: [("state", "=", "failed")]),),
        compare=False,
        up_is_good=False,
    ),
    Kpi(
        "failed_deliveries",
        _lt("Failed webhook deliveries"),
        _lt(
            "Webhook deliveries that failed for good after their retries: resend them once the receiving system "
            "is fixed. For managers, who see webhooks."
        ),
        "subscription_lifecycle.lifecycle_webhook_delivery_action",
        "recent",
        (Figure("lifecycle.webhook.delivery", lambda window: [("state", "=", "failed")]),),
        compare=False,
        up_is_good=False,
    ),
)


class LifecycleCockpit(models.AbstractModel):
    """The overview dashboard, the app's landing page: read in one call, as the user.

    Everything is searched and aggregated with the user's rights, record rules
    and allowed companies: nobody sees on the dashboard what the lists would
    hide. Amounts of the KPIs are in the current company's currency, converted
    at today's rate; the rows of the lists keep their own currency.
    """

    _name = "lifecycle.cockpit"
    _description = "Lifecycle overview"

    @api.model
    def get_cockpit_data(self):
        """Everything the dashboard shows, in a number of queries that does not grow with the book."""
        self.env["lifecycle.deadline"].check_access("read")
        periods = self._periods()
        cache = {}
        return {
            "currency_id": self.env.company.currency_id.id,
            "today": periods.today,
            "upcoming": self._upcoming(periods),
            "todo": self._todo(periods),
            "kpis": [
                {
                    "key": kpi.key,
                    "label": str(kpi.label),
                    "help": str(kpi.help),
                    "measure": kpi.measure,
                    "up_is_good": kpi.up_is_good,
                    **kpi.compute(self, periods, cache),
                }
                for kpi in KPIS
                if kpi.readable(self)
            ],
            "funnel": self._funnel(periods),
        }

    @api.model
    def action_open_list(self, key):
        """The list behind a KPI (by its key) or behind "Upcoming renewals" (``upcoming``)."""
        periods = self._periods()
        if key == "upcoming":
            label, xmlid, domain = (
                self.env._("Upcoming renewals"),
                "subscription_lifecycle.lifecycle_deadline_action",
                self._upcoming_domain(periods),
            )
        else:
            kpi = next((kpi for kpi in KPIS if kpi.key == key), None)
            if kpi is None:
                raise UserError(self.env._("The dashboard has no figure named %(key)s.", key=key))
            label, xmlid, domain = str(kpi.label), kpi.action, kpi.list_for(periods)
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        # the list shows what the figure counts: no default filter on top
        return {**action, "name": label, "display_name": label, "domain": domain, "context": {"create": False}}

    def _periods(self):
        tz = self.env.context.get("tz") or self.env.user.tz
        return Periods(fields.Date.context_today(self), tz)

    def _to_company_currency(self, amount, currency):
        company = self.env.company
        return currency._convert(amount, company.currency_id, company, fields.Date.context_today(self))

    def _upcoming_domain(self, periods):
        return [("state", "=", "active"), *_days("date_expiry", periods.upcoming)]

    def _upcoming(self, periods):
        """The first deadlines to expire in the next days: who, what, how much, in how many days.

        ``more`` says whether there are others: counting them all would read a
        week of a large book (tens of thousands of rows) for one number.
        """
        rows = self.env["lifecycle.deadline"].search(self._upcoming_domain(periods), limit=UPCOMING_LIMIT + 1)
        return {
            "more": len(rows) > UPCOMING_LIMIT,
            "rows": [
                {
                    "id": deadline.id,
                    "customer": deadline.partner_id.display_name,
                    "service": deadline.product_id.display_name,
                    "amount": deadline.amount,
                    "currency_id": deadline.currency_id.id,
                    "date_expiry": deadline.date_expiry,
                    "days_left": (deadline.date_expiry - periods.today).days,
                }
                for deadline in rows[:UPCOMING_LIMIT]
            ],
        }

    def _funnel(self, periods):
        """The reminders sent in the last 30 days: how many delivered, clicked, renewed; the median days to renew.

        None for whoever may not read reminder analytics.
        """
        traces = self.env["lifecycle.reminder.trace"]
        if not traces.has_access("read"):
            return None
        domain = _instants("date_sent", periods.recent)
        [(sent, delivered, clicked, renewed)] = traces._read_group(
            domain, aggregates=["sent_count:sum", "delivered_count:sum", "clicked_count:sum", "renewed_count:sum"]
        )
        [(days,)] = traces._read_group([*domain, ("renewal_id", "!=", False)], aggregates=["days_to_renewal:array_agg"])
        return {
            "sent": sent or 0,
            "delivered": delivered or 0,
            "clicked": clicked or 0,
            "renewed": renewed or 0,
            "median_days": median_days(days or []),
        }

    def _todo(self, periods):
        """My callbacks due today or late, the oldest first."""
        callback = self.env.ref("subscription_lifecycle.mail_activity_type_callback", raise_if_not_found=False)
        if not callback:
            return {"total": 0, "rows": [], "callback_type_id": False}
        activities = self.env["mail.activity"]
        domain = [
            ("activity_type_id", "=", callback.id),
            ("user_id", "=", self.env.uid),
            ("date_deadline", "<=", periods.today),
        ]
        rows = activities.search(domain, order="date_deadline, id", limit=TODO_LIMIT)
        return {
            "total": activities.search_count(domain),
            "callback_type_id": callback.id,
            "rows": [
                {
                    "id": activity.id,
                    "res_model": activity.res_model,
                    "res_id": activity.res_id,
                    "res_name": activity.res_name,
                    "summary": activity.summary or callback.summary or callback.name,
                    "date_deadline": activity.date_deadline,
                    "days_late": (periods.today - activity.date_deadline).days,
                }
                for activity in rows
            ],
        }
