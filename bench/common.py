"""What every benchmark shares: an Odoo environment on a named database, data in bulk, a stopwatch.

A benchmark takes the name of a database of its own: it is created when
missing, with the addon and what the benchmark compares it with installed, and
each run adds the data it needs (tagged with the run, so earlier runs' data is
never counted). Never point a benchmark at a production database.
"""

import argparse
import contextlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools import dev  # noqa: E402  (the same way to find Odoo as the two commands)

ADDON = dev.ADDON


def parser(description):
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("database", help="name of the benchmark database (created when missing)")
    return arguments


def registry(dbname, modules=(ADDON,), update=True):
    """The database's registry, with ``modules`` installed (the database is created when missing).

    With ``update``, the addon is updated to the code of this tree first.
    """
    _command, addons_path = dev.find_odoo()
    dev.pg_env()
    from odoo.modules.registry import Registry  # noqa: PLC0415  (Odoo is found at run time)
    from odoo.service import db  # noqa: PLC0415
    from odoo.tools import config  # noqa: PLC0415

    config.parse_config(
        [f"--addons-path={addons_path}", f"--database={dbname}", "--log-level=warn", "--max-cron-threads=0"],
        setup_logging=True,
    )
    if not db.exp_db_exist(dbname):
        dev.step(f"creating the benchmark database {dbname}")
        db._create_empty_database(dbname)  # what odoo-bin does for a new database
        Registry.new(dbname, update_module=True, install_modules=["base"], new_db_demo=False)
    registry = Registry(dbname)
    if not update:
        return registry
    with registry.cursor() as cr:
        cr.execute("SELECT name FROM ir_module_module WHERE state = 'installed' AND name IN %s", [tuple(modules)])
        missing = set(modules) - {row[0] for row in cr.fetchall()}
    # the addon as it is in this tree: installed when missing, else updated
    dev.step(f"installing {', '.join(sorted(missing))} and updating {ADDON} on {dbname}")
    return Registry.new(dbname, update_module=True, install_modules=sorted(missing), upgrade_modules=[ADDON])


@contextlib.contextmanager
def environment(registry):
    """A superuser environment on a fresh cursor, committed when the block ends without error."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    with registry.cursor() as cr:
        yield api.Environment(cr, SUPERUSER_ID, {})


class Stopwatch:
    """Wall time and SQL queries of a block: ``with Stopwatch(cr) as watch: ...; watch.seconds``."""

    def __init__(self, cr):
        self.cr = cr

    def __enter__(self):
        self.queries = self.cr.sql_log_count
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.queries = self.cr.sql_log_count - self.queries


def run_tag():
    return time.strftime("bench-%Y%m%d-%H%M%S")
