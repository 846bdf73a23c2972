"""The engine's cron job in an Odoo process of its own, for tests/test_engine_workers.py.

    python3 engine_worker.py --addons-path=... --database=DB [other odoo-bin options]

The process loads the database's registry, writes ``ready`` on its standard
output and waits for a line on its standard input; then it runs the job
"Lifecycle: run workflows" the way ``ir.cron._run_job`` does (a progress
record in the context, the job's server action through ``_callback``, again
while the job reports work left), writing ``progress <id>`` for each progress
record before using it. The lock ``ir.cron`` takes on the job's row is left
out: with it, two cron workers never run one job at the same time, and the
tests need two side by side.
"""

import sys
import time

from odoo.tools import config


def say(line):
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def main():
    config.parse_config(sys.argv[1:], setup_logging=True)
    # after the configuration, as odoo-bin does: it sets where the addons are
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    from odoo.addons.base.models.ir_cron import MIN_TIME_PER_JOB  # noqa: PLC0415

    registry = Registry(config["db_name"][0])
    say("ready")
    sys.stdin.readline()
    with registry.cursor() as cr:
        job = api.Environment(cr, SUPERUSER_ID, {}).ref("subscription_lifecycle.ir_cron_lifecycle_engine")
        context = {"lastcall": job.lastcall, "cron_id": job.id, "cron_end_time": time.monotonic() + MIN_TIME_PER_JOB}
        cron = api.Environment(cr, job.user_id.id, context)["ir.cron"].browse(job.id)
        while True:
            cron_in_progress, progress = cron._add_progress()
            cr.commit()  # pylint: disable=invalid-commit
            say(f"progress {progress.id}")
            cron_in_progress._callback(job.cron_name, job.ir_actions_server_id.id)
            if not (progress.done and progress.remaining):
                break


if __name__ == "__main__":
    main()
