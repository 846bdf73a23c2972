"""What finding lapsed customers ("no active service for N days") costs the hourly scheduler.

    python3 bench/lapses.py DATABASE [--count 10000]

Each run adds ``--count`` customers of its own who registered today and
never subscribed, half of them with a deadline that expired today too, then
runs the scheduler's lapse step as it would run once the company's days have
passed: first when it finds and announces them all, then again (the hourly
steady state: nothing new to announce). It prints, for both, the wall time,
the SQL queries and the number of events the lapse query reads.
"""

from datetime import timedelta

import common


def make_customers(env, tag, count):
    """``count`` registered customers, half of them with a deadline that expired today."""
    from odoo import fields  # noqa: PLC0415

    quiet = env(context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True})
    partners = quiet["res.partner"].create([{"name": f"{tag} customer {index}"} for index in range(count)])
    company = env.company
    env["lifecycle.event"]._emit("customer_registered", partners, company_id=company.id)
    product = quiet["product.product"].create(
        {
            "name": f"{tag} plan",
            "type": "service",
            "lifecycle_is_deadline": True,
            "lifecycle_duration": 1,
            "lifecycle_duration_unit": "month",
        }
    )
    today = fields.Date.context_today(env["lifecycle.deadline"])
    deadlines = quiet["lifecycle.deadline"].create(
        [
            {
                "partner_id": partner.id,
                "product_id": product.id,
                "date_start": today - timedelta(days=30),
                "date_expiry": today,
                "state": "expired",
            }
            for partner in partners[: count // 2]
        ]
    )
    env["lifecycle.event"]._emit_each("deadline_expired", [(deadline, {}) for deadline in deadlines])
    return partners


def main():
    arguments = common.parser(__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=10000)
    args = arguments.parse_args()
    registry = common.registry(args.database)
    tag = common.run_tag()
    with common.environment(registry) as env:
        partner_ids = set(make_customers(env, tag, args.count).ids)
        days = env.company.lifecycle_lapse_days
    from odoo import fields  # noqa: PLC0415

    later = fields.Datetime.now() + timedelta(days=days + 1)
    for label in ("first run", "next hour"):
        with common.environment(registry) as env:
            env.cr.execute(
                "SELECT COUNT(*) FROM lifecycle_event WHERE event_type IN"
                " ('customer_registered', 'deadline_expired', 'deadline_closed', 'deadline_cancelled')"
            )
            read = env.cr.fetchone()[0]
            with common.Stopwatch(env.cr) as watch:
                emitted = env["lifecycle.deadline"]._emit_no_active_service(now=later)
            mine = len([event for event in emitted if event.partner_id.id in partner_ids])
            print(
                f"{label}: {len(emitted)} lapses announced ({mine} of this run's {args.count} customers)"
                f" in {watch.seconds:.2f} s, {watch.queries} queries, reading {read} events"
            )


if __name__ == "__main__":
    main()
