#!/usr/bin/env python3
"""Start Odoo with subscription_lifecycle, or run its whole test suite.

    python3 tools/dev.py run     # local database with demo data, prints URL + logins
    python3 tools/dev.py test    # lint + every test on a fresh throw-away database

Odoo 19 is found as an importable ``odoo`` package or through ``ODOO_PATH``
(an Odoo 19 source tree holding ``odoo-bin``).  PostgreSQL is found through the
usual ``PG*`` variables or the local socket; a stopped local Debian cluster is
started when we are root.  Chromium is needed by the browser tests.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = "subscription_lifecycle"
# Installed beside the addon in the test and demo databases only: Odoo's demo
# payment provider, so portal renewals and wallet top-ups can be paid end to end.
DEMO_ADDONS = ("payment_demo",)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Python modules the addon and the test tooling import, with their pip name.
PY_MODULES = {
    "phonenumbers": "requirements.txt",
    "dateutil": "requirements.txt",
    "requests": "requirements.txt",
    "websocket": "requirements-test.txt",
    "ruff": "requirements-test.txt",
    "pylint_odoo": "requirements-test.txt",
    "oca_pre_commit_hooks": "requirements-test.txt",
}
RESULT_RE = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
SKIP_RE = re.compile(r" INFO \S+ \S+: skipped ")
PROBLEM_RE = re.compile(r"^\d{4}-\d\d-\d\d \S+ \d+ (ERROR|CRITICAL) ")
SHOWN_RE = re.compile(rf" (WARNING|ERROR|CRITICAL) | odoo\.addons\.{ADDON}\.| odoo\.tests\.")


def die(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def step(message):
    print(f"==> {message}", flush=True)


def find_odoo():
    """Return the command prefix that runs odoo-bin, and the addons path."""
    odoo_path = os.environ.get("ODOO_PATH")
    if odoo_path:
        tree = Path(odoo_path).expanduser().resolve()
        release = tree / "odoo" / "release.py"
        if not (tree / "odoo-bin").is_file() or not release.is_file():
            die(f"ODOO_PATH={odoo_path} is not an Odoo source tree (no odoo-bin or odoo/release.py).")
        if "version_info = (19," not in release.read_text(encoding="utf-8"):
            die(f"ODOO_PATH={odoo_path} is not Odoo 19.0.")
        command = [sys.executable, str(tree / "odoo-bin")]
        package_dir = tree / "odoo"
    else:
        probe = subprocess.run(
            [sys.executable, "-c", "import odoo.release as r, odoo; print(r.version_info[0]); print(odoo.__path__[0])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            die(
                "Odoo 19 was not found: install Odoo 19.0 into this Python "
                f"({sys.executable}) or set ODOO_PATH to an Odoo 19.0 source tree."
            )
        major, package = probe.stdout.split()
        if major != "19":
            die(f"the importable odoo package is Odoo {major}, not 19.0 (set ODOO_PATH to an Odoo 19.0 tree).")
        command = [sys.executable, "-m", "odoo"]
        package_dir = Path(package)
    addons = [ROOT]
    community_addons = package_dir.parent / "addons"
    if (community_addons / "web" / "__manifest__.py").is_file():
        addons.append(community_addons)
    addons.append(package_dir / "addons")
    return command, ",".join(str(path) for path in addons)


def ensure_python_modules(names):
    missing = [
        name
        for name in names
        if subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, check=False).returncode
    ]
    if not missing:
        return
    files = sorted({PY_MODULES[name] for name in missing})
    step(f"installing missing Python modules {', '.join(missing)} from {', '.join(files)}")
    args = [sys.executable, "-m", "pip", "install", "--quiet"]
    for requirements in files:
        args += ["-r", str(ROOT / requirements)]
    if subprocess.run(args, check=False).returncode:
        die(f"could not install {', '.join(missing)}: run pip install -r {' -r '.join(files)}")


def pg_env():
    """Make sure a PostgreSQL server answers; return the environment to reach it."""
    env = dict(os.environ)
    if any(key in env for key in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")):
        return env
    if not shutil.which("psql"):
        die("PostgreSQL client (psql) not found: install PostgreSQL >= 13 or set the PG* variables.")
    if _psql(env, "SELECT 1") is None and shutil.which("pg_lsclusters"):
        for line in subprocess.run(
            ["pg_lsclusters", "-h"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            version, cluster, _port, status = line.split()[:4]
            if status == "down" and IS_ROOT:
                step(f"starting the stopped PostgreSQL cluster {version}/{cluster}")
                subprocess.run(["pg_ctlcluster", version, cluster, "start"], check=False)
    if IS_ROOT and _psql(env, "SELECT 1") is None:
        user = os.environ.get("USER") or "root"
        step(f"creating the PostgreSQL role {user}")
        subprocess.run(["runuser", "-u", "postgres", "--", "createuser", "--createdb", user], check=False)
    if _psql(env, "SELECT 1") is None:
        die("cannot connect to PostgreSQL: start a server, or set PGHOST/PGPORT/PGUSER/PGPASSWORD.")
    return env


def _psql(env, sql):
    done = subprocess.run(["psql", "-d", "postgres", "-tAc", sql], env=env, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_chromium():
    if any(shutil.which(name) for name in CHROME_NAMES):
        return
    if not IS_ROOT or not shutil.which("apt-get"):
        die("Chromium is needed for the browser tests: install it (Debian: apt-get install chromium).")
    step("installing Chromium from Debian's packages for the browser tests")
    apt = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=apt, check=False)
    if subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=apt, check=False).returncode:
        die("could not install Chromium: apt-get install chromium failed.")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lint():
    step("lint: ruff check, ruff format --check, pylint-odoo and oca-checks-odoo-module (OCA checks)")
    checks = [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "pylint", "--rcfile=.pylintrc", ADDON],
        [sys.executable, "-m", "oca_pre_commit_hooks.cli", ADDON],
    ]
    return sum(1 for check in checks if subprocess.run(check, cwd=ROOT, check=False).returncode)


def run_tests(args):
    ensure_python_modules(PY_MODULES)
    lint_failures = lint()
    command, addons_path = find_odoo()
    env = pg_env()
    ensure_chromium()
    database = f"{ADDON}_test_{os.getpid()}_{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="lifecycle-test-"))
    log_path = workdir / "odoo.log"
    tags = args.test_tags or f"/{ADDON}"
    step(f"installing {ADDON} on the fresh database {database} and running tests {tags}")
    odoo = [
        *command,
        f"--addons-path={addons_path}",
        f"--data-dir={workdir / 'data'}",
        f"--database={database}",
        f"--db-filter=^{database}$",
        f"--http-port={free_port()}",
        "--http-interface=127.0.0.1",
        "--workers=0",
        "--max-cron-threads=0",
        "--with-demo",
        f"--init={','.join((ADDON, *DEMO_ADDONS))}",
        "--test-enable",
        f"--test-tags={tags}",
        "--stop-after-init",
        "--log-level=test",
    ]
    counts = {"failed": 0, "errors": 0, "run": 0, "skipped": 0, "problems": 0}
    try:
        with (
            subprocess.Popen(odoo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc,
            log_path.open("w") as log,
        ):
            for line in proc.stdout:
                log.write(line)
                if args.verbose or SHOWN_RE.search(line):
                    sys.stdout.write(line)
                result = RESULT_RE.search(line)
                if result:
                    counts["failed"], counts["errors"], counts["run"] = map(int, result.groups())
                counts["skipped"] += bool(SKIP_RE.search(line))
                counts["problems"] += bool(PROBLEM_RE.match(line))
        returncode = proc.returncode
    finally:
        subprocess.run(["dropdb", "--if-exists", database], env=env, check=False)
    failed = counts["failed"] + counts["errors"]
    passed = counts["run"] - failed - counts["skipped"]
    print(f"full Odoo log: {log_path}")
    reasons = []
    if lint_failures:
        reasons.append(f"{lint_failures} lint check(s) failed")
    if not counts["run"]:
        reasons.append("no test ran")
    if counts["skipped"]:
        reasons.append(f"{counts['skipped']} test(s) skipped: a skipped test is not a passing one")
    if counts["problems"]:
        reasons.append(f"{counts['problems']} ERROR/CRITICAL line(s) in the Odoo log")
    if returncode:
        reasons.append(f"Odoo exited with {returncode}")
    for reason in reasons:
        print(f"FAILED: {reason}")
    print(f"{ADDON}: {passed} passed, {failed} failed, {counts['skipped']} skipped")
    return 1 if reasons or failed else 0


def run_server(args):
    ensure_python_modules(["phonenumbers", "dateutil", "requests"])
    command, addons_path = find_odoo()
    env = pg_env()
    exists = _psql(env, f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'") == "1"
    odoo = [
        *command,
        f"--addons-path={addons_path}",
        f"--database={args.database}",
        f"--db-filter=^{args.database}$",
        f"--http-port={args.port}",
        "--with-demo",
        f"--update={ADDON}" if exists else f"--init={','.join((ADDON, *DEMO_ADDONS))}",
    ]
    print(f"Odoo with {ADDON} on database {args.database} ({'updating' if exists else 'creating, with demo data'})")
    print(f"  URL:    http://localhost:{args.port}/odoo")
    print("  logins: admin / admin  (Lifecycle Manager)")
    print("          demo / demo    (Lifecycle User)")
    print("          portal / portal (portal customer)")
    print("  stop with Ctrl+C", flush=True)
    return subprocess.run(odoo, env=env, check=False).returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start Odoo with the addon and demo data")
    run.add_argument("--database", default=os.environ.get("LIFECYCLE_DB", ADDON))
    run.add_argument("--port", type=int, default=int(os.environ.get("LIFECYCLE_PORT", "8069")))
    test = sub.add_parser("test", help="lint, then run every test on a throw-away database")
    test.add_argument("--test-tags", help="Odoo --test-tags to run instead of the whole suite")
    test.add_argument("--verbose", action="store_true", help="print the whole Odoo log")
    args = parser.parse_args()
    return run_server(args) if args.command == "run" else run_tests(args)


if __name__ == "__main__":
    sys.exit(main())
