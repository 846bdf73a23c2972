import inspect
import itertools
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

from odoo import Command, http
from odoo.tests import HttpCase, new_test_user, tagged

from .test_wallet import WalletCommon

# Routes of this addon and of its bridge addons (subscription_lifecycle_*).
ADDON = "odoo.addons.subscription_lifecycle"
# A URL parameter: <name>, <converter:name> or <converter(args):name>.
PARAMETER = re.compile(r"<(?:(?P<converter>[^:<>(]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
# What must not change, whatever a request does.
COUNTED = (
    "sale.order",
    "lifecycle.wallet",
    "lifecycle.wallet.transaction",
    "payment.transaction",
    "lifecycle.deadline",
)
# Values a customer would send for the arguments routes take, by name.
PLAUSIBLE = {"amount": "10"}
# JSON-RPC errors that mean "log in" (100), "not found" (404) or "forbidden".
REFUSED_ERRORS = ("werkzeug.exceptions.Forbidden", "odoo.exceptions.AccessError", "odoo.exceptions.MissingError")


@tagged("post_install", "-at_install")
class TestRouteSweep(WalletCommon, HttpCase):
    """Every route of the addon, read from Odoo's routing map, refuses strangers.

    Each route is called (GET; POST with a CSRF token where it takes POST;
    JSON-RPC routes with a JSON-RPC body) by a visitor, by another portal
    customer, and by both with a wrong token or the token of another record,
    with the ids of a first customer's records in its URL parameters. The
    rule, for every answer:

    - nothing of the first customer leaks: none of their names, amounts,
      order or payment references or access tokens appear in the body or
      the redirect;
    - nothing changes: as many orders, wallets, ledger lines, payment
      transactions and deadlines as before, and the first customer's
      deadline, wallet and order as they were;
    - a request that names a first customer's record, and any request of a
      visitor, is refused: a redirect to /web/login, a 403 or a 404 (for
      JSON-RPC, a session-expired, not-found or forbidden error).
      Another customer may get an answer about their own data from a route
      that names no record (their own empty wallet, their own deadlines):
      any answer but a server error, under the first two rules.

    Routes added later are covered as they are: URL parameters get ids by
    their name (``deadline``, ``wallet``, ``order``, ``transaction``; a
    ``page`` is 1; any other name tries every id of the first customer), other
    parameters the token, and the route's arguments a plausible value.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.email = "azure.secret@example.com"
        cls.owner = new_test_user(cls.env, login="azure_owner", groups="base.group_portal", name="Ann Azure-Owner")
        cls.owner.partner_id.parent_id = cls.customer
        product = cls._make_product("Orbital Licence Zeta", 1, "year", 7654.32)
        cls.deadline = cls.env["lifecycle.deadline"].create(
            {
                "partner_id": cls.customer.id,
                "product_id": product.id,
                "amount": 7654.32,
                "date_start": date.today() - timedelta(days=355),
                "date_expiry": date.today() + timedelta(days=10),
                "state": "active",
            }
        )
        cls.order = cls._order(cls.customer, product)
        cls.rival = cls.env["res.partner"].create({"name": "Rival Corp", "is_company": True})
        rival_user = new_test_user(cls.env, login="rival_portal", groups="base.group_portal", name="Rob Rival")
        rival_user.partner_id.parent_id = cls.rival
        rival_deadline = cls.env["lifecycle.deadline"].create(
            {
                "partner_id": cls.rival.id,
                "product_id": cls.monthly.id,
                "date_start": date.today(),
                "date_expiry": date.today() + timedelta(days=20),
                "state": "active",
            }
        )
        cls.foreign_tokens = (rival_deadline._portal_ensure_token(), cls._order(cls.rival, cls.monthly).access_token)

    @classmethod
    def _order(cls, partner, product):
        order = cls.env["sale.order"].create(
            {"partner_id": partner.id, "order_line": [Command.create({"product_id": product.id})]}
        )
        order._portal_ensure_token()
        return order

    def setUp(self):
        super().setUp()
        self.wallet = self._wallet()
        self.transaction = self._deposit(self.wallet, 4321.09, "TOPUP-SWEEP")
        self.ids = {
            "deadline": self.deadline.ids,
            "wallet": self.wallet.ids,
            "order": self.order.ids,
            "transaction": self.transaction.ids,
        }
        self.secrets = [
            self.customer.name,
            self.customer.email,
            self.owner.name,
            self.deadline.product_id.name,
            "7,654.32",
            "7654.32",
            "4,321.09",
            "4321.09",
            f"{self.order.amount_total:,.2f}",
            self.order.name,
            self.transaction.reference,
            self.deadline._portal_ensure_token(),
            self.order.access_token,
        ]

    def _addon_rules(self):
        """The rules of the routing map whose endpoint this addon defines or overrides."""
        for rule in self.env["ir.http"].routing_map().iter_rules():
            method = rule.endpoint.func
            if any(
                cls.__module__.startswith(ADDON) and method.__name__ in vars(cls) for cls in type(method.__self__).mro()
            ):
                yield rule

    def _state(self):
        self.env.invalidate_all()
        counts = {model: self.env[model].sudo().search_count([]) for model in COUNTED}
        return (
            counts,
            self.deadline.read(["date_expiry", "state", "access_token"]),
            self.wallet.balance,
            self.order.read(["state", "amount_total"]),
        )

    def _calls(self, rule, token):
        """(url, method, targets_the_first_customer, params) for each way of calling ``rule``."""
        choices, named = [], {}
        for match in PARAMETER.finditer(rule.rule):
            name, converter = match["name"], match["converter"] or "default"
            if name == "page":
                values = [("1", False)]
            elif converter == "int" or converter.startswith("model"):
                kinds = [kind for kind in self.ids if kind in name] or list(self.ids)
                values = [(str(record_id), True) for kind in kinds for record_id in self.ids[kind]]
            else:
                values = [(self.deadline.access_token, True), (token or "wrong", False)]
            named[match.group(0)] = len(choices)
            choices.append(values)
        params = {"access_token": token} if token else {}
        for parameter in inspect.signature(rule.endpoint.func).parameters.values():
            name, required = parameter.name, parameter.default is parameter.empty
            if name in rule.arguments or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                continue
            if "token" in name:
                params[name] = token or ""
            elif name in PLAUSIBLE or required:
                params[name] = PLAUSIBLE.get(name, "1")
        routing = rule.endpoint.routing
        if routing["type"] == "jsonrpc":
            methods = ["JSONRPC"]
        else:
            allowed = routing["methods"] or ["GET", "POST"]
            methods = [method for method in ("GET", "POST") if method in allowed]
        for combination in itertools.product(*choices):
            url = PARAMETER.sub(lambda match, values=combination: values[named[match.group(0)]][0], rule.rule)
            targets = any(targeted for _value, targeted in combination)
            for method in methods:
                yield url, method, targets, params

    def _call(self, url, method, params):
        """Send the request; return (status, redirect path, answer text, JSON-RPC error or None)."""
        if method == "JSONRPC":
            response = self.opener.post(
                self.base_url() + url,
                json={"jsonrpc": "2.0", "method": "call", "id": 0, "params": params},
                timeout=12,
            )
            return response.status_code, "", response.text, response.json().get("error")
        if method == "POST":
            response = self.url_open(
                url, data={"csrf_token": http.Request.csrf_token(self), **params}, allow_redirects=False
            )
        else:
            response = self.url_open(url, params=params, allow_redirects=False)
        location = response.headers.get("Location", "")
        return response.status_code, urlsplit(location).path, response.text + location, None

    @staticmethod
    def _refused(status, redirect, error):
        if error is not None:
            return error.get("code") in (100, 404) or error.get("data", {}).get("name") in REFUSED_ERRORS
        return status in (403, 404) or (300 <= status < 400 and redirect == "/web/login")

    def test_every_route_refuses_visitors_other_customers_and_wrong_tokens(self):
        rules = list(self._addon_rules())
        paths = {rule.rule for rule in rules}
        self.assertTrue({"/my/deadlines", "/my/deadlines/<int:deadline_id>", "/my/wallet"} <= paths, paths)
        # the owner sees what must not leak: the leak check looks for the right strings
        self.authenticate("azure_owner", "azure_owner")
        self.assertIn(self.deadline.product_id.name, self.url_open("/my/deadlines").text)
        self.assertIn("4,321.09", self.url_open("/my/wallet").text)

        identities = [(None, None), (None, "wrong"), ("rival_portal", None)]
        identities += [(login, token) for login in (None, "rival_portal") for token in self.foreign_tokens]
        before = self._state()
        problems = []
        for login, token in identities:
            self.authenticate(login, login)
            who = f"{login or 'a visitor'} with token {token!r}"
            for rule in rules:
                for url, method, targets, params in self._calls(rule, token):
                    status, redirect, text, error = self._call(url, method, params)
                    call = f"{method} {url} {params} by {who}: {status} {redirect} {error and error['data']['name']}"
                    leaked = [secret for secret in self.secrets if secret in text]
                    if leaked:
                        problems.append(f"{call} leaks {leaked}")
                    if status >= 500 or ((targets or not login) and not self._refused(status, redirect, error)):
                        problems.append(f"{call} is not refused")
                    after = self._state()
                    if after != before:
                        problems.append(f"{call} changed {before} into {after}")
                        before = after
        self.assertFalse(problems, "\n".join(problems))
        self.assertFalse(self.wallet._check_ledger())
