"""One of the engine's cron jobs in an Odoo process of its own, for tests/test_engine_workers.py.

    python3 engine_worker.py JOB_XMLID --addons-path=... --database=DB [other odoo-bin options]

The process loads the database's registry, writes ``ready`` on its standard
output and waits for a line on its standard input; then it runs the cron job
``JOB_XMLID`` (``subscription_lifecycle.ir_cron_lifecycle_engine`` or its
``_second``) through Odoo's own cron loop, as a cron thread does when it
finds the job ready: the job's row locked, its progress recorded, its
batches committed, the job rescheduled. It runs the job again for as long
as the job says work is left (Odoo makes it ready again at once), and ends
when the job is done.

With ``LIFECYCLE_TEST_TWILIO_ROOT`` in its environment, its requests to
Twilio's API go to that local server (``twilio_local.py``).
"""

import os
import sys

from twilio_local import TWILIO_ROOT, send_twilio_to  # this script's folder

from odoo.tools import SQL, config


def main():
    job_xmlid = sys.argv[1]
    if os.environ.get(TWILIO_ROOT):
        send_twilio_to(os.environ[TWILIO_ROOT])
    config.parse_config(sys.argv[2:], setup_logging=True)
    # after the configuration, as odoo-bin does: it sets where the addons are
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415
    from odoo.modules.registry import Registry  # noqa: PLC0415

    from odoo.addons.base.models.ir_cron import IrCron  # noqa: PLC0415

    registry = Registry(config["db_name"][0])
    with registry.cursor() as cron_cr:
        job_id = api.Environment(cron_cr, SUPERUSER_ID, {}).ref(job_xmlid).id
        cron_cr.commit()  # pylint: disable=invalid-commit
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        while True:
            cron_cr.execute(
                SQL("SELECT id FROM ir_cron WHERE id = %s AND %s", job_id, IrCron._get_ready_sql_condition(cron_cr))
            )
            if not cron_cr.fetchone():
                break
            cron_cr.commit()  # pylint: disable=invalid-commit
            IrCron._process_jobs_loop(cron_cr, job_ids=[job_id])


if __name__ == "__main__":
    main()
