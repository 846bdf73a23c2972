"""The portal's "My deadlines" page for a customer with many deadlines: milliseconds and queries.

    python3 bench/portal.py DATABASE [--count 1000] [--repeat 10]

Creates a portal customer with ``--count`` deadlines (once: reused by later
runs), starts Odoo on a free port of 127.0.0.1, logs in as that customer and
asks for /my/deadlines ``--repeat`` times after one warm-up. The figures are
Odoo's own per-request counters from its access log (queries, SQL time and
the rest of the time), as ``--log-level=info`` prints them.
"""

import re
import statistics
import subprocess
from datetime import timedelta

import common
import requests

LOGIN = "bench-portal"
ACCESS_LINE = re.compile(r'"GET /my/deadlines HTTP/[\d.]+" 200 - (\d+) ([\d.]+) ([\d.]+)')


def prepare(env, count):
    """The bench customer's login, with ``count`` deadlines."""
    from odoo import fields  # noqa: PLC0415

    user = env["res.users"].search([("login", "=", LOGIN)])
    if not user:
        user = env["res.users"].create(
            {
                "name": "Bench Portal Customer",
                "login": LOGIN,
                "password": LOGIN,
                "group_ids": [(6, 0, [env.ref("base.group_portal").id])],
            }
        )
    partner = user.partner_id
    have = env["lifecycle.deadline"].search_count([("partner_id", "=", partner.id)])
    if have < count:
        products = env["product.product"].create(
            [
                {
                    "name": f"Bench service {index}",
                    "type": "service",
                    "list_price": 10.0 + index,
                    "lifecycle_is_deadline": True,
                    "lifecycle_duration": 1,
                    "lifecycle_duration_unit": "year",
                }
                for index in range(20)
            ]
        )
        today = fields.Date.context_today(env["lifecycle.deadline"])
        env["lifecycle.deadline"].with_context(tracking_disable=True).create(
            [
                {
                    "partner_id": partner.id,
                    "product_id": products[index % 20].id,
                    "amount": 100.0,
                    "date_start": today - timedelta(days=365 - index % 365),
                    "date_expiry": today + timedelta(days=index % 365),
                    "state": "active",
                }
                for index in range(count - have)
            ]
        )


def main():
    arguments = common.parser(__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=1000, help="deadlines of the customer (default 1000)")
    arguments.add_argument("--repeat", type=int, default=10, help="measured requests (default 10)")
    args = arguments.parse_args()
    registry = common.registry(args.database)
    with common.environment(registry) as env:
        prepare(env, args.count)
    command, addons_path = common.dev.find_odoo()
    port = common.dev.free_port()
    server = subprocess.Popen(
        [
            *command,
            f"--addons-path={addons_path}",
            f"--database={args.database}",
            f"--db-filter=^{args.database}$",
            "--http-interface=127.0.0.1",
            f"--http-port={port}",
            "--workers=0",
            "--max-cron-threads=0",
            "--log-level=info",
        ],
        env=common.dev.pg_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in server.stdout:
            if "HTTP service (werkzeug) running" in line:
                break
        else:
            raise SystemExit(f"Odoo did not start on {args.database} (exit code {server.wait()})")
        session = requests.Session()
        url = f"http://127.0.0.1:{port}"
        session.post(
            f"{url}/web/session/authenticate",
            json={"params": {"db": args.database, "login": LOGIN, "password": LOGIN}},
            timeout=60,
        ).raise_for_status()
        figures = []
        for _index in range(args.repeat + 1):
            session.get(f"{url}/my/deadlines", timeout=60).raise_for_status()
            for line in server.stdout:
                found = ACCESS_LINE.search(line)
                if found:
                    figures.append((int(found[1]), (float(found[2]) + float(found[3])) * 1000))
                    break
    finally:
        server.terminate()
        server.wait(timeout=60)
    figures = figures[1:]  # the warm-up fills Odoo's caches
    print(f"/my/deadlines for a customer with {args.count} deadlines, {args.repeat} requests")
    print(f"  median {statistics.median(ms for _q, ms in figures):.1f} ms, {max(q for q, _ms in figures)} queries")


if __name__ == "__main__":
    main()
