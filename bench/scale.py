"""The daily scheduler on a large book: its first day and an ordinary day, in seconds and queries.

    python3 bench/scale.py DATABASE [--count 1000000]

Generates ``--count`` active deadlines (default 1,000,000) for as many
customers, with expiries spread evenly over the next year, by bulk SQL (the ORM
would take hours), then times the scheduler (expiry + due reminders) on its
first day (no reminder sent yet: every deadline within the ladder's reach is
due once) and on the ordinary day after it, with what committing the day
writes besides. Each day is run ``--repeat`` times and the median printed.
Then the engine taking the ordinary day's expiry events, which writes the
expired deadlines' status changes in their chatter.

The first day is committed before the ordinary day is timed, as the hourly
cron commits it: the ordinary day's rows are then another transaction's, as
in production (rows changed in the timed transaction itself cost PostgreSQL a
foreign-key check per key on each new change). The timed runs are rolled
back, and the book is put back as generated at the start and at the end, so
that the next run reuses it when the count matches; it is vacuumed before the
first day is timed.
"""

from datetime import timedelta

import common

TAG = "bench-scale"


def generate(env, count):
    """Bulk-insert ``count`` customers and their deadlines unless this book already exists."""
    cr = env.cr
    cr.execute(
        "SELECT COUNT(*) FROM lifecycle_deadline d JOIN res_partner p ON p.id = d.partner_id WHERE p.ref = %s", [TAG]
    )
    if cr.fetchone()[0] == count:
        return
    common.dev.step(f"generating {count} customers and deadlines (bulk SQL)")
    product = env["product.product"].create(
        {
            "name": "Bench yearly service",
            "type": "service",
            "list_price": 100.0,
            "lifecycle_is_deadline": True,
            "lifecycle_duration": 1,
            "lifecycle_duration_unit": "year",
        }
    )
    company = env.company
    env.flush_all()
    cr.execute(
        """
        INSERT INTO res_partner (name, ref, email, active, type, is_company, company_id, lang, autopost_bills,
                                 create_uid, write_uid, create_date, write_date)
        SELECT 'Bench customer ' || n, %(tag)s, 'bench-' || n || '@example.com', TRUE, 'contact', TRUE, NULL,
               'en_US', 'ask', 1, 1, now(), now()
          FROM generate_series(1, %(count)s) AS n
        """,
        {"tag": TAG, "count": count},
    )
    cr.execute("UPDATE res_partner SET commercial_partner_id = id, complete_name = name WHERE ref = %s", [TAG])
    cr.execute(
        """
        INSERT INTO lifecycle_deadline (name, partner_id, commercial_partner_id, product_id, quantity, currency_id,
                                        amount, date_start, date_expiry, anchor_day, reminder_date, user_id,
                                        company_id, state, create_uid, write_uid, create_date, write_date)
        SELECT 'Bench yearly service — ' || p.name, p.id, p.id, %(product)s, 1, %(currency)s, 100,
               expiry - 365, expiry, EXTRACT(DAY FROM expiry - 365), expiry - %(first_rung)s, 1, %(company)s,
               'active', 1, 1, now(), now()
          FROM (SELECT id, name, CURRENT_DATE + (row_number() OVER (ORDER BY id) %% 365)::int AS expiry
                  FROM res_partner WHERE ref = %(tag)s) AS p
        """,
        {
            "product": product.id,
            "currency": company.currency_id.id,
            "company": company.id,
            "tag": TAG,
            "first_rung": max(company._lifecycle_ladder()),
        },
    )
    cr.execute("ANALYZE lifecycle_deadline")
    cr.execute("ANALYZE lifecycle_event")


def reset(env):
    """Put the book back as generated: every deadline active, at its first rung, no event since."""
    cr = env.cr
    cr.execute("DELETE FROM lifecycle_event e USING res_partner p WHERE p.id = e.partner_id AND p.ref = %s", [TAG])
    cr.execute(
        """
        UPDATE lifecycle_deadline d SET state = 'active', reminder_date = d.date_expiry - %(first_rung)s
          FROM res_partner p
         WHERE p.id = d.partner_id AND p.ref = %(tag)s
           AND (d.state <> 'active' OR d.reminder_date IS DISTINCT FROM d.date_expiry - %(first_rung)s)
        """,
        {"tag": TAG, "first_rung": max(env.company._lifecycle_ladder())},
    )
    if cr.rowcount:
        common.dev.step(f"{cr.rowcount} deadlines put back as generated")
    env.invalidate_all()


def vacuum(dbname):
    """Clear the dead rows the last run's reset left (a hundred thousand), so that each run starts alike."""
    import psycopg2  # noqa: PLC0415

    from odoo.sql_db import connection_info_for  # noqa: PLC0415

    connection = psycopg2.connect(**connection_info_for(dbname)[1])
    try:
        connection.autocommit = True  # VACUUM runs outside a transaction
        with connection.cursor() as cr:
            cr.execute("VACUUM ANALYZE lifecycle_deadline, lifecycle_event")
    finally:
        connection.close()


def committed(env):
    """What committing the day's work writes besides it, without committing."""
    env.flush_all()
    env.cr.precommit.run()
    env.flush_all()


def timed_day(registry, now):
    """Seconds and queries of the scheduler at ``now`` (rolled back), then of the engine on its expiries."""
    with common.environment(registry) as env:
        last = env["lifecycle.event"].search([], order="id desc", limit=1).id
        with common.Stopwatch(env.cr) as watch:
            env["lifecycle.deadline"]._cron_schedule(now=now)
            committed(env)
        emitted = env["lifecycle.event"].search_count([("id", ">", last)])
        expiries = env["lifecycle.event"].search([("id", ">", last), ("event_type", "=", "deadline_expired")])
        with common.Stopwatch(env.cr) as engine:
            expiries._match_workflows(now)
            env.flush_all()
        env.cr.rollback()
    return watch, emitted, (engine, len(expiries))


def median_day(registry, repeat, now):
    """The run of ``timed_day`` with the median time out of ``repeat``: one run's time varies with the server."""
    runs = sorted((timed_day(registry, now) for _run in range(repeat)), key=lambda run: run[0].seconds)
    return runs[len(runs) // 2]


def main():
    arguments = common.parser(__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=1_000_000, help="deadlines in the book (default 1,000,000)")
    arguments.add_argument("--repeat", type=int, default=3, help="runs of each day, the median is printed (default 3)")
    args = arguments.parse_args()
    registry = common.registry(args.database)
    from odoo import fields  # noqa: PLC0415  (Odoo is found at run time)

    with common.environment(registry) as env:
        generate(env, args.count)
        reset(env)
    vacuum(args.database)
    print(
        f"{args.count} active deadlines, expiries spread over a year, database {args.database}, median of {args.repeat}"
    )
    now = fields.Datetime.now()
    first = median_day(registry, args.repeat, now)
    try:
        with common.environment(registry) as env:
            # the first day, committed as the cron would (untimed)
            env["lifecycle.deadline"]._cron_schedule(now=now)
        ordinary = median_day(registry, args.repeat, now + timedelta(days=1))
    finally:
        with common.environment(registry) as env:
            reset(env)
    for label, watch, emitted, _engine in (("first day", *first), ("ordinary day", *ordinary)):
        print(f"  {label:<13} {watch.seconds:7.2f} s  {watch.queries:>7} queries  {emitted:>7} events")
    engine, expiries = ordinary[2]
    print(
        f"  then the engine taking the ordinary day's {expiries} expiry events (their chatter notes):"
        f" {engine.seconds:.2f} s, {engine.queries} queries"
    )


if __name__ == "__main__":
    main()
