"""Screenshots of the main screens, taken from a running demo database with headless Chromium.

Used by ``python3 tools/dev.py screenshots``, which starts Odoo on the demo
database first. Chromium is driven through its DevTools protocol with
``websocket-client`` (a test requirement already): log in by JSON-RPC, hand the
session cookie to the browser, open each screen at a fixed 1400 x 900 viewport,
wait until it has drawn, save a PNG.
"""

import base64
import itertools
import json
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import websocket

WIDTH, HEIGHT = 1400, 900
ADDON = "subscription_lifecycle"
# Open a notebook page of a form by its label (the customer card's Deadlines tab).
OPEN_TAB = (
    "[...document.querySelectorAll('.o_notebook .nav-link')].find((tab) => tab.textContent.trim() === %s).click()"
)
# file, login, path (``{xmlid}`` is replaced by the record's id), what must be on screen, script to run first
SHOTS = (
    ("dashboard.png", "admin", f"/odoo/action-{ADDON}.lifecycle_cockpit_action", ".o_lifecycle_kpis", None),
    (
        "analytics.png",
        "admin",
        f"/odoo/action-{ADDON}.lifecycle_reminder_trace_action?view_type=graph",
        ".o_graph_renderer canvas",
        None,
    ),
    (
        "analytics_pivot.png",
        "admin",
        f"/odoo/action-{ADDON}.lifecycle_reminder_trace_action?view_type=pivot",
        ".o_pivot table",
        None,
    ),
    ("deadlines.png", "admin", f"/odoo/action-{ADDON}.lifecycle_deadline_action", ".o_list_renderer tbody tr", None),
    (
        "deadline_form.png",
        "admin",
        f"/odoo/action-{ADDON}.lifecycle_deadline_action/{{{ADDON}.deadline_demo_blueharbour_maint}}",
        ".o_form_view .o_field_widget",
        None,
    ),
    (
        "customer_card.png",
        "admin",
        f"/odoo/action-base.action_partner_form/{{{ADDON}.partner_demo_northwind}}",
        ".o_form_view .o_notebook",
        OPEN_TAB % json.dumps("Deadlines"),
    ),
    ("workflows.png", "admin", f"/odoo/action-{ADDON}.lifecycle_workflow_action", ".o_list_renderer tbody tr", None),
    ("portal_deadlines.png", "portal", "/my/deadlines", "table", None),
    ("portal_wallet.png", "portal", "/my/wallet", "table", None),
)
# the demo logins (see README.md); each screen is taken as the user who would look at it
PASSWORDS = {"admin": "admin", "portal": "portal"}
SETTLE_SECONDS = 1.5  # charts animate, fonts load: let the page come to rest before the shot
TIMEOUT = 60


class Browser:
    """A headless Chromium with one page, driven over its DevTools websocket."""

    def __init__(self, chrome, is_root, port):
        self.profile = tempfile.TemporaryDirectory(prefix="lifecycle-shots-")
        self.port = port
        command = [
            chrome,
            "--headless=new",
            "--disable-gpu",
            "--hide-scrollbars",
            "--lang=en-US",
            "--no-first-run",
            "--remote-allow-origins=*",
            f"--remote-debugging-port={self.port}",
            f"--user-data-dir={self.profile.name}",
            f"--window-size={WIDTH},{HEIGHT}",
            "about:blank",
        ]
        if is_root:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.ids = itertools.count(1)
        self.socket = websocket.create_connection(self._page_socket_url(), timeout=TIMEOUT)
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
        self.call("Network.enable")

    def _page_socket_url(self):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                targets = requests.get(f"http://127.0.0.1:{self.port}/json/list", timeout=5).json()
            except requests.RequestException:
                time.sleep(0.2)
                continue
            pages = [target for target in targets if target.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.2)
        raise RuntimeError("Chromium did not open its DevTools port")

    def call(self, method, **params):
        """Send one DevTools command and return its result (events met meanwhile are dropped)."""
        call_id = next(self.ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def use_session(self, base_url, session_id):
        self.call("Network.clearBrowserCookies")
        self.call("Network.setCookie", name="session_id", value=session_id, url=base_url)

    def shoot(self, url, selector, script, target):
        self.call("Page.navigate", url=url)
        ready = (
            f"document.readyState === 'complete' && !!document.querySelector({json.dumps(selector)})"
            " && !document.querySelector('.o_loading_indicator, .o-main-components-container .o_loading')"
        )
        self._wait_for(ready, url)
        if script:
            self.evaluate(script)
            self._wait_for(ready, url)
        time.sleep(SETTLE_SECONDS)
        png = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        target.write_bytes(base64.b64decode(png))

    def _wait_for(self, expression, url):
        deadline = time.monotonic() + TIMEOUT
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not draw what was expected ({expression})")
            time.sleep(0.25)

    def close(self):
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.profile.cleanup()


def _jsonrpc(session, url, params):
    answer = session.post(url, json={"jsonrpc": "2.0", "method": "call", "params": params}, timeout=TIMEOUT).json()
    if answer.get("error"):
        raise RuntimeError(f"{url}: {answer['error'].get('data', {}).get('message') or answer['error']}")
    return answer["result"]


def log_in(base_url, database, login):
    """A session of ``login`` (its cookie value) and the JSON-RPC session that holds it."""
    session = requests.Session()
    _jsonrpc(
        session,
        f"{base_url}/web/session/authenticate",
        {"db": database, "login": login, "password": PASSWORDS[login]},
    )
    return session.cookies["session_id"], session


def record_id(base_url, session, xmlid):
    module, name = xmlid.split(".")
    rows = _jsonrpc(
        session,
        f"{base_url}/web/dataset/call_kw/ir.model.data/search_read",
        {
            "model": "ir.model.data",
            "method": "search_read",
            "args": [[("module", "=", module), ("name", "=", name)], ["res_id"]],
            "kwargs": {},
        },
    )
    if not rows:
        raise RuntimeError(f"{xmlid} is not in the database: is it the story demo?")
    return rows[0]["res_id"]


def with_ids(base_url, session, path):
    """``path`` with each ``{module.name}`` replaced by the id of that record."""
    while "{" in path:
        xmlid = path[path.index("{") + 1 : path.index("}")]
        path = path.replace(f"{{{xmlid}}}", str(record_id(base_url, session, xmlid)))
    return path


def take_all(base_url, database, browser, folder, only=()):
    """Save every screen of SHOTS (or those named in ``only``) into ``folder``; return the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sessions, written = {}, []
    try:
        for name, login, path, selector, script in SHOTS:
            if only and name not in only:
                continue
            if login not in sessions:
                sessions[login] = log_in(base_url, database, login)
            session_id, rpc = sessions[login]
            browser.use_session(base_url, session_id)
            browser.shoot(base_url + with_ids(base_url, rpc, path), selector, script, folder / name)
            written.append(folder / name)
            print(f"  {folder / name}", flush=True)
    finally:
        browser.close()
    return written
