"""Reminder emails per second: this addon against Odoo's own ways of sending the same template.

    python3 bench/reminders.py DATABASE [--count 2000] [--workers 2]

On one database, in one run, each way sends the shipped 30-day reminder
template for ``--count`` deadlines of its own, all due today:

- ``base_automation``: a time-based automation rule "30 days before the expiry
  date, send this email", run by its cron method (what a user builds instead);
- ``send_mail_batch``: ``mail.template.send_mail_batch`` in batches of 500, the
  floor the framework itself sets;
- ``addon``: the shipped "Renewal reminder: 30 days" workflow switched on, run
  by the scheduler and the engine, one worker (its email step compiles the
  template once per batch, ``send_mail_batch`` alone once per email); then
  the same backlog size worked by the engine alone, in one Odoo process
  running its cron job, then in ``--workers`` processes each running one of
  its two cron jobs, sharing the backlog through the engine's claims.

It prints mails/s for each way (mail.mail records queued) and the ratios.
"""

import subprocess
import sys
import time
from datetime import timedelta

import common

EXTRA_MODULES = ("base_automation",)
# One of the engine's cron jobs in an Odoo process of its own: what the tests run too.
WORKER = common.ROOT / common.ADDON / "tests" / "engine_worker.py"


def make_deadlines(env, tag, count, state):
    """``count`` deadlines of ``count`` new customers expiring in 30 days, in ``state``; their ids."""
    from odoo import fields  # noqa: PLC0415

    today = fields.Date.context_today(env["lifecycle.deadline"])
    product = env["product.product"].search([("name", "=", "Bench maintenance")], limit=1) or env[
        "product.product"
    ].create(
        {
            "name": "Bench maintenance",
            "type": "service",
            "list_price": 100.0,
            "lifecycle_is_deadline": True,
            "lifecycle_duration": 1,
            "lifecycle_duration_unit": "year",
        }
    )
    quiet = env(context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True})
    partners = quiet["res.partner"].create(
        [{"name": f"{tag} customer {index}", "email": f"{tag}-{index}@example.com"} for index in range(count)]
    )
    origin = quiet["lifecycle.origin"].create({"name": tag})
    deadlines = quiet["lifecycle.deadline"].create(
        [
            {
                "partner_id": partner.id,
                "product_id": product.id,
                "amount": 100.0,
                "date_start": today - timedelta(days=335),
                "date_expiry": today + timedelta(days=30),
                "state": state,
                "origin_id": origin.id,
            }
            for partner in partners
        ]
    )
    return deadlines.ids, origin.id


def mails_for(env, deadline_ids):
    env.flush_all()
    return env["mail.mail"].search_count([("model", "=", "lifecycle.deadline"), ("res_id", "in", deadline_ids)])


def way_send_mail_batch(registry, tag, count):
    with common.environment(registry) as env:
        ids, _origin = make_deadlines(env, f"{tag}-batch", count, "draft")
    with common.environment(registry) as env:
        template = env.ref("subscription_lifecycle.mail_template_reminder_30")
        with common.Stopwatch(env.cr) as watch:
            for start in range(0, len(ids), 500):
                template.send_mail_batch(ids[start : start + 500])
            env.flush_all()
        return mails_for(env, ids), watch


def way_base_automation(registry, tag, count):
    with common.environment(registry) as env:
        ids, origin = make_deadlines(env, f"{tag}-auto", count, "draft")
        model = env["ir.model"]._get("lifecycle.deadline")
        env["base.automation"].search([("name", "=like", "bench-%")]).active = False
        env["base.automation"].create(
            {
                "name": f"{tag}: reminder 30 days before expiry",
                "model_id": model.id,
                "trigger": "on_time",
                "trg_date_id": env["ir.model.fields"]._get("lifecycle.deadline", "date_expiry").id,
                "trg_date_range": 30,
                "trg_date_range_mode": "before",
                "trg_date_range_type": "day",
                "filter_domain": f"[('origin_id', '=', {origin})]",
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Send the 30-day reminder",
                            "model_id": model.id,
                            "state": "mail_post",
                            "mail_post_method": "email",
                            "template_id": env.ref("subscription_lifecycle.mail_template_reminder_30").id,
                        },
                    )
                ],
            }
        )
    with common.environment(registry) as env:
        with common.Stopwatch(env.cr) as watch:
            env["base.automation"]._cron_process_time_based_actions()
            env.flush_all()
        return mails_for(env, ids), watch


def switch_on_the_30_day_workflow(env):
    workflows = env["lifecycle.workflow"].with_context(active_test=False).search([("event_type", "=", "reminder_due")])
    workflows.active = False
    env.ref("subscription_lifecycle.workflow_reminder_30").active = True


def way_addon(registry, tag, count):
    with common.environment(registry) as env:
        switch_on_the_30_day_workflow(env)
        ids, _origin = make_deadlines(env, f"{tag}-addon", count, "active")
        # what the scheduler would have done earlier is not this run's work
        env["lifecycle.workflow.run"]._cron_engine()
    with common.environment(registry) as env:
        with common.Stopwatch(env.cr) as watch:
            env["lifecycle.deadline"]._cron_schedule()
            env["lifecycle.workflow.run"]._cron_engine()
            env.flush_all()
        return mails_for(env, ids), watch


def way_workers(registry, tag, count, workers):
    """The engine alone: ``workers`` Odoo processes on one backlog of ``count`` due reminders; wall time.

    Each process runs one of the engine's cron jobs through Odoo's cron loop
    (``tests/engine_worker.py``, as the tests do), as ``workers`` cron
    workers would. The clock starts once every process has loaded Odoo and
    stops when the last one is done: loading Odoo is no part of the engine's
    speed, and with two workers on two cores it would be counted twice.
    """
    from odoo.addons.subscription_lifecycle.models.lifecycle_workflow_run import ENGINE_CRONS  # noqa: PLC0415

    with common.environment(registry) as env:
        switch_on_the_30_day_workflow(env)
        ids, _origin = make_deadlines(env, f"{tag}-w{workers}", count, "active")
        env["lifecycle.deadline"]._cron_schedule()
    _command, addons_path = common.dev.find_odoo()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                job,
                f"--addons-path={addons_path}",
                f"--database={registry.db_name}",
                "--log-level=warn",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for job in ENGINE_CRONS[:workers]
    ]
    for process in processes:
        if process.stdout.readline() != "ready\n":
            raise RuntimeError("an engine worker did not start")
    start = time.perf_counter()
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        if process.wait():
            raise RuntimeError("an engine worker failed")
    seconds = time.perf_counter() - start
    with common.environment(registry) as env:
        return mails_for(env, ids), seconds


def main():
    arguments = common.parser(__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=2000, help="deadlines per way (default 2000)")
    arguments.add_argument(
        "--workers",
        type=int,
        default=2,
        choices=(1, 2),
        help="engine processes in the last way (1: the one-worker way twice, to see what running second is worth)",
    )
    args = arguments.parse_args()
    registry = common.registry(args.database, (common.ADDON, *EXTRA_MODULES))
    tag = common.run_tag()
    rates = {}
    print(f"{args.count} deadlines per way, database {args.database}")
    for name, way in (
        ("base_automation", way_base_automation),
        ("send_mail_batch", way_send_mail_batch),
        ("addon (1 worker)", way_addon),
    ):
        mails, watch = way(registry, tag, args.count)
        rates[name] = mails / watch.seconds
        print(
            f"  {name:<20} {mails:>6} mails {watch.seconds:7.2f} s {rates[name]:7.1f} mails/s {watch.queries} queries"
        )
    worker_rates = []
    # each run on a backlog of its own (its tag); with --workers 1 the one-worker
    # run is made twice, and the ratio shows what running second is worth
    for run, workers in enumerate((1, args.workers)):
        mails, seconds = way_workers(registry, f"{tag}-{run}", args.count, workers)
        worker_rates.append(mails / seconds)
        print(f"  engine, {workers} worker(s)  {mails:>6} mails {seconds:7.2f} s {worker_rates[-1]:7.1f} mails/s")
    addon = rates["addon (1 worker)"]
    print(f"addon / base_automation = {addon / rates['base_automation']:.2f}x")
    print(f"addon / send_mail_batch floor = {addon / rates['send_mail_batch']:.2f}x")
    print(f"{args.workers} workers / 1 worker = {worker_rates[-1] / worker_rates[0]:.2f}x")


if __name__ == "__main__":
    main()
