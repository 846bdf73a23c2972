#!/usr/bin/env python3
"""Start Odoo with subscription_lifecycle, or run its whole test suite.

    python3 tools/dev.py run     # local database with demo data, prints URL + logins
    python3 tools/dev.py test    # lint + every test on a fresh throw-away database
    python3 tools/dev.py screenshots  # the README's screenshots, retaken from the demo database

Odoo 19 is found as an importable ``odoo`` package or through ``ODOO_PATH``
(an Odoo 19 source tree holding ``odoo-bin``).  PostgreSQL is found through the
usual ``PG*`` variables or the local socket; a stopped local Debian cluster is
started when we are root.  Chromium is needed by the browser tests.
"""

import argparse
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = "subscription_lifecycle"
# The bridge addons of this repository (subscription_lifecycle_<app>), linted
# and tested with the addon; each installs by itself (auto_install) with its app.
BRIDGES = ("subscription_lifecycle_mass_mailing",)
ADDONS = (ADDON, *BRIDGES)
# Installed beside the addon in the test and demo databases only: Odoo's demo
# payment provider, so portal renewals and wallet top-ups can be paid end to end.
DEMO_ADDONS = ("payment_demo",)
# Installed in the test database only, so that the bridges install with their
# apps and their tests run (Email Marketing is too heavy for the demo database;
# installing it from Apps there brings its bridge along), and Odoo's Twilio SMS
# provider, so the SMS step is tested with it as with IAP.
TEST_INIT = (ADDON, *DEMO_ADDONS, "mass_mailing", "sms_twilio")
IS_ROOT = os.geteuid() == 0
# Where a PEP 668 "externally managed" system Python gets its packages instead.
VENV = ROOT / ".venv"
# The names Odoo's browser tests look for in PATH (odoo.tests.common._find_executable).
ODOO_CHROME_NAMES = ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable")
CHROME_NAMES = (*ODOO_CHROME_NAMES, "chrome", "google-chrome-beta", "chromium-freeworld")
CHROME_PATHS = (
    "/snap/bin/chromium",
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
    "/opt/google/chrome/chrome",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
# Distribution package that provides Chromium, by package manager.
CHROME_PACKAGES = {"apt-get": ("chromium", "chromium-browser"), "dnf": ("chromium",), "zypper": ("chromium",)}
# Python modules the addon and the test tooling import, with their pip name.
PY_MODULES = {
    "phonenumbers": "requirements.txt",
    "dateutil": "requirements.txt",
    "requests": "requirements.txt",
    "websocket": "requirements-test.txt",
    "ruff": "requirements-test.txt",
    "pylint_odoo": "requirements-test.txt",
    "oca_pre_commit_hooks": "requirements-test.txt",
    "pytest": "requirements-test.txt",
    "pytest_odoo": "requirements-test.txt",
    "standardwebhooks": "requirements-test.txt",
}
PROBLEM_RE = re.compile(r"^\d{4}-\d\d-\d\d \S+ \d+ (ERROR|CRITICAL) ")
# pytest's closing line: "150 passed, 2 skipped in 412.30s" (-q), framed with "=" otherwise
SUMMARY_RE = re.compile(r"^(=+ )?\d+ (passed|failed|skipped|errors?|deselected)\b.* in [\d.]+s|^(=+ )?no tests ran in ")
SKIPPED_RE = re.compile(r"\b(\d+) skipped\b")
NO_TESTS_COLLECTED = 5  # pytest's exit code when it found nothing to run


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


def externally_managed(prefix=sys.prefix, base_prefix=sys.base_prefix, stdlib=None):
    """Whether pip may not install into this Python (PEP 668): a system Python marked so, not a venv."""
    if prefix != base_prefix:
        return False
    return (Path(stdlib or sysconfig.get_path("stdlib")) / "EXTERNALLY-MANAGED").is_file()


def venv_python():
    return VENV / "bin" / "python"


def reexec_in_venv():
    """Go on in the project's virtual environment when the system Python is externally managed."""
    if externally_managed() and venv_python().is_file():
        os.execv(venv_python(), [str(venv_python()), str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606


def ensure_python_modules(names):
    missing = [
        name
        for name in names
        if subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, check=False).returncode
    ]
    if not missing:
        return
    files = sorted({PY_MODULES[name] for name in missing})
    requirements = [arg for name in files for arg in ("-r", str(ROOT / name))]
    if externally_managed():
        # PEP 668: pip refuses to touch this Python. A virtual environment that
        # still sees the system's packages (Odoo among them) takes what is missing.
        step(f"{sys.executable} is externally managed: installing {', '.join(missing)} into {VENV}")
        venv = [sys.executable, "-m", "venv", "--system-site-packages", str(VENV)]
        if subprocess.run(venv, check=False).returncode:
            die(
                f"could not create {VENV}: install your distribution's venv package (Debian/Ubuntu: "
                f"apt-get install python3-venv), or run in a virtual environment of your own "
                f"with pip install {' '.join(requirements)}"
            )
        python = str(venv_python())
    else:
        step(f"installing missing Python modules {', '.join(missing)} from {', '.join(files)}")
        python = sys.executable
    if subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements], check=False).returncode:
        die(f"could not install {', '.join(missing)}: run {python} -m pip install {' '.join(requirements)}")
    if python != sys.executable:
        reexec_in_venv()


def process_user():
    """The user this process runs as: libpq's default role name (``$USER`` is stale after a plain su)."""
    return pwd.getpwuid(os.geteuid()).pw_name


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
        user = process_user()
        step(f"creating the PostgreSQL role {user}")
        subprocess.run(["runuser", "-u", "postgres", "--", "createuser", "--createdb", user], check=False)
    if _psql(env, "SELECT 1") is None:
        die("cannot connect to PostgreSQL: start a server, or set PGHOST/PGPORT/PGUSER/PGPASSWORD.")
    return env


def _psql(env, sql):
    done = subprocess.run(["psql", "-d", "postgres", "-tAc", sql], env=env, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def find_chrome(path=None, candidates=CHROME_PATHS):
    """The Chromium or Chrome executable: ``$CHROME_BIN``, a usual name in PATH, or a usual path."""
    explicit = os.environ.get("CHROME_BIN")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CHROME_NAMES:
        found = shutil.which(name, path=path)
        if found:
            return found
    return next((candidate for candidate in candidates if os.access(candidate, os.X_OK)), None)


def chrome_path_dir(chrome, workdir):
    """A folder to put first in PATH so that Odoo's browser tests find ``chrome`` by a name they know."""
    if Path(chrome).name in ODOO_CHROME_NAMES and shutil.which(Path(chrome).name) == chrome:
        return None
    folder = Path(workdir) / "bin"
    folder.mkdir(exist_ok=True)
    (folder / "chromium").symlink_to(chrome)
    return folder


def ensure_chromium():
    chrome = find_chrome()
    if chrome:
        return chrome
    manager = next((name for name in CHROME_PACKAGES if shutil.which(name)), None)
    if not IS_ROOT or not manager:
        die(
            "Chromium or Chrome is needed for the browser tests: install it (Debian: apt-get install chromium; "
            "Ubuntu: apt-get install chromium-browser), or set CHROME_BIN to its executable."
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if manager == "apt-get":
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    for package in CHROME_PACKAGES[manager]:
        step(f"installing {package} with {manager} for the browser tests")
        if subprocess.run([manager, "install", "-y", "-q", package], env=env, check=False).returncode == 0:
            chrome = find_chrome()
            if chrome:
                return chrome
    die(f"could not install Chromium with {manager}: install it by hand, or set CHROME_BIN.")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lint_commands():
    """ruff on the whole tree, pylint-odoo and OCA's checks on every addon of ADDONS."""
    return [
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "pylint", "--rcfile=.pylintrc", *ADDONS],
        [sys.executable, "-m", "oca_pre_commit_hooks.cli", *ADDONS],
    ]


def lint():
    step("lint: ruff check, ruff format --check, pylint-odoo and oca-checks-odoo-module (OCA checks)")
    return sum(1 for check in lint_commands() if subprocess.run(check, cwd=ROOT, check=False).returncode)


def tool_tests():
    """The tests of this script itself (tools/test_dev.py); returns the number of failures."""
    step("tests of tools/dev.py")
    suite = unittest.defaultTestLoader.discover(str(ROOT / "tools"), pattern="test_*.py", top_level_dir=str(ROOT))
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"tools: {result.testsRun - failed} passed, {failed} failed", flush=True)
    return failed + len(result.skipped)


def lib_tests():
    """The pure modules' tests (lib/), plain pytest without Odoo; returns pytest's exit code."""
    step(f"tests of {ADDON}/lib (pure Python, no Odoo)")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:odoo", "-q", f"{ADDON}/lib"], cwd=ROOT, check=False
    ).returncode


def install_database(command, addons_path, database, workdir, env):
    """Create ``database`` with the addons of TEST_INIT and their demo data; the ERROR lines of the install."""
    step(f"installing {', '.join(TEST_INIT)} (and {', '.join(BRIDGES)} with them) on the fresh database {database}")
    log_path = workdir / "install.log"
    odoo = [
        *command,
        f"--addons-path={addons_path}",
        f"--data-dir={workdir / 'data'}",
        f"--database={database}",
        f"--db-filter=^{database}$",
        "--http-interface=127.0.0.1",
        f"--http-port={free_port()}",
        "--workers=0",
        "--max-cron-threads=0",
        "--with-demo",
        f"--init={','.join(TEST_INIT)}",
        "--stop-after-init",
        f"--logfile={log_path}",
    ]
    returncode = subprocess.run(odoo, env=env, check=False).returncode
    problems = log_problems(log_path)
    if returncode or problems:
        print(f"installation log: {log_path}")
    return returncode, problems


def log_problems(log_path):
    """The ERROR and CRITICAL lines of an Odoo log (shown, and counted by the caller)."""
    if not log_path.is_file():
        return []
    with log_path.open(encoding="utf-8", errors="replace") as log:
        problems = [line for line in log if PROBLEM_RE.match(line)]
    sys.stdout.writelines(problems)
    return problems


def pytest_odoo_command(addons_path, database, workdir, args):
    """pytest with pytest-odoo on ``database``: its HTTP server for HttpCase and tours, Odoo's log in a file."""
    selection = ["-k", args.k] if args.k else []
    return [
        sys.executable,
        "-m",
        "pytest",
        f"--odoo-database={database}",
        f"--odoo-addons-path={addons_path}",
        "--odoo-http",
        "--odoo-log-level=info",
        f"--odoo-extra=data-dir={workdir / 'data'}",
        f"--odoo-extra=logfile={workdir / 'odoo.log'}",
        "--odoo-extra=http-interface=127.0.0.1",
        "--odoo-extra=max-cron-threads=0",
        "-v" if args.verbose else "-q",
        "-rfEs",
        *selection,
        *(f"{addon}/tests" for addon in ADDONS),
    ]


def run_tests(args):
    ensure_python_modules(PY_MODULES)
    reasons = []
    lint_failures = lint() + tool_tests()
    if lint_failures:
        reasons.append(f"{lint_failures} lint check(s) or tool test(s) failed")
    lib_code = lib_tests()
    if lib_code:
        reasons.append(f"the tests of {ADDON}/lib failed (pytest exit code {lib_code})")
    command, addons_path = find_odoo()
    env = pg_env()
    chrome = ensure_chromium()
    database = f"{ADDON}_test_{os.getpid()}_{int(time.time())}"
    workdir = Path(tempfile.mkdtemp(prefix="lifecycle-test-"))
    chrome_dir = chrome_path_dir(chrome, workdir)
    if chrome_dir:
        env["PATH"] = os.pathsep.join((str(chrome_dir), env.get("PATH", os.defpath)))
    try:
        returncode, problems = install_database(command, addons_path, database, workdir, env)
        if returncode:
            reasons.append(f"installing {ADDON} failed (Odoo exited with {returncode})")
        else:
            step(f"Odoo tests through pytest-odoo on {database}; Odoo's log: {workdir / 'odoo.log'}")
            outcome = run_pytest(pytest_odoo_command(addons_path, database, workdir, args), env)
            problems += log_problems(workdir / "odoo.log")
            reasons += pytest_reasons(*outcome)
    finally:
        subprocess.run(["dropdb", "--if-exists", database], env=env, check=False)
    if problems:
        reasons.append(f"{len(problems)} ERROR/CRITICAL line(s) in the Odoo log")
    for reason in reasons:
        print(f"FAILED: {reason}")
    return 1 if reasons else 0


def run_pytest(command, env):
    """Run ``command``, echoing its output; its exit code and its last summary line."""
    summary = ""
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if SUMMARY_RE.search(line):
                summary = line
    return proc.returncode, summary


def pytest_reasons(returncode, summary):
    """Why a pytest run does not count as green: failures, no test at all (exit code 5), skips."""
    reasons = []
    if returncode == NO_TESTS_COLLECTED:
        reasons.append("no test ran")
    elif returncode:
        reasons.append(f"pytest exited with {returncode}")
    skipped = SKIPPED_RE.search(summary)
    if skipped:
        reasons.append(f"{skipped.group(1)} test(s) skipped: a skipped test is not a passing one")
    return reasons


def server_command(command, addons_path, args, exists):
    """odoo-bin's arguments for ``run``: the demo database, served on ``args.interface`` only."""
    return [
        *command,
        f"--addons-path={addons_path}",
        f"--database={args.database}",
        f"--db-filter=^{args.database}$",
        f"--http-interface={args.interface}",
        f"--http-port={args.port}",
        "--with-demo",
        f"--update={ADDON}" if exists else f"--init={','.join((ADDON, *DEMO_ADDONS))}",
    ]


def run_server(args):
    ensure_python_modules(["phonenumbers", "dateutil", "requests"])
    command, addons_path = find_odoo()
    env = pg_env()
    exists = _psql(env, f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'") == "1"
    odoo = server_command(command, addons_path, args, exists)
    host = "localhost" if args.interface in ("127.0.0.1", "localhost") else args.interface
    print(f"Odoo with {ADDON} on database {args.database} ({'updating' if exists else 'creating, with demo data'})")
    print(f"  URL:    http://{host}:{args.port}/odoo")
    if args.interface not in ("127.0.0.1", "localhost", "::1"):
        print(f"  warning: served on {args.interface}, beyond this machine, with the demo passwords below")
    print("  logins: admin / admin  (Lifecycle Manager)")
    print("          demo / demo    (Lifecycle User)")
    print("          portal / portal (portal customer)")
    print("  stop with Ctrl+C", flush=True)
    return subprocess.run(odoo, env=env, check=False).returncode


def screenshot_server_commands(command, addons_path, database, port, exists):
    """odoo-bin's arguments for ``screenshots``: bring the demo database up to date, then serve it.

    The server runs no cron, so that nothing is sent and nothing changes while
    the screens are taken; it serves on loopback only.
    """
    common = [*command, f"--addons-path={addons_path}", f"--database={database}", f"--db-filter=^{database}$"]
    prepare = [
        *common,
        "--with-demo",
        f"--update={ADDON}" if exists else f"--init={','.join((ADDON, *DEMO_ADDONS))}",
        "--stop-after-init",
    ]
    serve = [*common, "--http-interface=127.0.0.1", f"--http-port={port}", "--max-cron-threads=0", "--workers=0"]
    return prepare, serve


def wait_for_http(url, process, seconds=180):
    """Wait until ``url`` answers; fail when ``process`` (the server) ends or the time is up."""
    import requests  # noqa: PLC0415 (installed by ensure_python_modules)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            die(f"Odoo stopped (exit code {process.returncode}) before serving {url}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    die(f"Odoo did not answer on {url} within {seconds} s")


def take_screenshots(args):
    ensure_python_modules(["requests", "websocket"])
    import screenshots  # noqa: PLC0415 (tools/screenshots.py, beside this script; needs websocket-client)

    chrome = ensure_chromium()
    command, addons_path = find_odoo()
    env = pg_env()
    exists = _psql(env, f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'") == "1"
    port = free_port()
    prepare, serve = screenshot_server_commands(command, addons_path, args.database, port, exists)
    step(f"{'updating' if exists else 'creating, with demo data,'} the demo database {args.database}")
    if subprocess.run(prepare, env=env, check=False).returncode:
        die(f"could not {'update' if exists else 'create'} the database {args.database}")
    step(f"serving {args.database} on 127.0.0.1:{port} (no crons) and taking screenshots into {args.output}")
    server = subprocess.Popen(serve, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/web/login", server)
        browser = screenshots.Browser(chrome, IS_ROOT, free_port())
        screenshots.take_all(base_url, args.database, browser, args.output, only=args.only)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start Odoo with the addon and demo data")
    run.add_argument("--database", default=os.environ.get("LIFECYCLE_DB", ADDON))
    run.add_argument("--port", type=int, default=int(os.environ.get("LIFECYCLE_PORT", "8069")))
    run.add_argument(
        "--interface",
        default=os.environ.get("LIFECYCLE_INTERFACE", "127.0.0.1"),
        help="address to serve on (default 127.0.0.1: the demo logins are admin/admin; 0.0.0.0 for every interface)",
    )
    test = sub.add_parser("test", help="lint, then run every test on a throw-away database")
    test.add_argument("-k", metavar="EXPRESSION", help="pytest's -k: only the Odoo tests whose names match")
    test.add_argument("--verbose", action="store_true", help="name each Odoo test as it runs (pytest -v)")
    shots = sub.add_parser("screenshots", help="retake the README's screenshots from the demo database")
    shots.add_argument("--database", default=os.environ.get("LIFECYCLE_DB", ADDON))
    shots.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots", help="folder of the PNG files")
    shots.add_argument("only", nargs="*", metavar="FILE", help="only these screens (dashboard.png, ...)")
    return parser


def main():
    args = build_parser().parse_args()
    reexec_in_venv()
    commands = {"run": run_server, "test": run_tests, "screenshots": take_screenshots}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
