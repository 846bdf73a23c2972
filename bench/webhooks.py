"""Webhook deliveries per second: this addon's sender against Odoo's own outgoing webhook.

    python3 bench/webhooks.py DATABASE [--count 1000] [--repeat 3]

A local HTTP server started by the script in a process of its own
(127.0.0.1, keep-alive, answers 200) receives, in one run on one database:

- ``addon``: ``--count`` "payment received" events of as many customers,
  emitted in one transaction to an endpoint subscribed to them (the outbox
  rows are queued with the events), then sent by the sender cron's method:
  signed, several at once, each attempt logged;
- ``odoo webhook``: Odoo's own server action of type *Send Webhook
  Notification* run for each of the same customers in one transaction; Odoo
  posts each one after the commit, one after the other, unsigned and unlogged.

It prints requests received, seconds and requests/s for each, and the ratio.
Timings are noisy on a shared machine: ``--repeat`` runs both ways again.
"""

import importlib.util
import multiprocessing
import time

import common

SERVER = common.ROOT / common.ADDON / "tests" / "webhook_server.py"


def load_server():
    """The tests' recording HTTP server (plain standard library), loaded without importing the addon."""
    spec = importlib.util.spec_from_file_location("webhook_server", SERVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WebhookServer()


def _serve(connection):
    server = load_server()
    connection.send(server.url)
    while connection.recv() == "count":
        connection.send(len(server.requests))
    server.stop()


class Receiver:
    """The local server in a process of its own, as a receiving system would be (not sharing our GIL)."""

    def __init__(self):
        spawn = multiprocessing.get_context("spawn")
        self._connection, child = spawn.Pipe()
        self._process = spawn.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.url = self._connection.recv()

    def received(self):
        """How many requests it has received so far."""
        self._connection.send("count")
        return self._connection.recv()

    def stop(self):
        self._connection.send("stop")
        self._process.join()


def make_customers(env, tag, count):
    quiet = env(context={"tracking_disable": True, "mail_create_nolog": True, "mail_notrack": True})
    return quiet["res.partner"].create([{"name": f"{tag} customer {index}"} for index in range(count)])


def way_addon(registry, server, tag, count):
    with common.environment(registry) as env:
        env.company.write({"lifecycle_webhook_allow_http": True, "lifecycle_webhook_allow_private": True})
        field = env["ir.model.fields"]._get("lifecycle.event", "event_type")
        selection = env["ir.model.fields.selection"].search(
            [("field_id", "=", field.id), ("value", "=", "payment_received")]
        )
        endpoints = env["lifecycle.webhook.endpoint"]
        endpoints.search([("name", "=like", "bench-%")]).active = False
        endpoint = endpoints.create({"name": f"{tag} endpoint", "url": server.url, "event_type_ids": selection.ids})
        customers = make_customers(env, f"{tag}-addon", count)
    with common.environment(registry) as env, common.Stopwatch(env.cr) as queued:
        env["lifecycle.event"]._emit("payment_received", env["res.partner"].browse(customers.ids))
        env.flush_all()
    received = server.received()
    with common.environment(registry) as env:
        with common.Stopwatch(env.cr) as sent:
            env["lifecycle.webhook.delivery"]._cron_send()
        delivered = env["lifecycle.webhook.delivery"].search_count(
            [("endpoint_id", "=", endpoint.id), ("state", "=", "delivered")]
        )
        env["lifecycle.webhook.endpoint"].browse(endpoint.id).active = False
    return server.received() - received, delivered, queued, sent


def way_odoo_webhook(registry, server, tag, count):
    with common.environment(registry) as env:
        customers = make_customers(env, f"{tag}-odoo", count)
        action = env["ir.actions.server"].create(
            {
                "name": f"{tag} Odoo webhook",
                "model_id": env["ir.model"]._get("res.partner").id,
                "state": "webhook",
                "webhook_url": server.url,
                "webhook_field_ids": [(6, 0, env["ir.model.fields"]._get("res.partner", "name").ids)],
            }
        )
    received = server.received()
    with registry.cursor() as cr:
        start = time.perf_counter()
        from odoo import SUPERUSER_ID, api  # noqa: PLC0415  (Odoo is found at run time)

        env = api.Environment(cr, SUPERUSER_ID, {})
        for partner_id in customers.ids:
            action.with_env(env).with_context(active_model="res.partner", active_id=partner_id).run()
        cr.commit()  # Odoo posts each webhook after the commit, one after the other
        seconds = time.perf_counter() - start
    return server.received() - received, seconds


def main():
    arguments = common.parser(__doc__.splitlines()[0])
    arguments.add_argument("--count", type=int, default=1000, help="events per way (default 1000)")
    arguments.add_argument("--repeat", type=int, default=1, help="runs of both ways (default 1)")
    args = arguments.parse_args()
    registry = common.registry(args.database)
    server = Receiver()
    try:
        print(f"{args.count} events per way, database {args.database}")
        for run in range(args.repeat):
            tag = f"{common.run_tag()}-{run}"
            received, delivered, queued, sent = way_addon(registry, server, tag, args.count)
            addon_rate = received / sent.seconds
            print(
                f"  addon         queued {args.count} deliveries with their events in {queued.seconds:6.2f} s"
                f" ({queued.queries} queries); sent {received} requests ({delivered} delivered)"
                f" in {sent.seconds:6.2f} s = {addon_rate:7.1f} deliveries/s"
            )
            received, seconds = way_odoo_webhook(registry, server, tag, args.count)
            odoo_rate = received / seconds
            print(f"  odoo webhook  sent {received} requests in {seconds:6.2f} s = {odoo_rate:7.1f} requests/s")
            print(f"  addon / odoo webhook = {addon_rate / odoo_rate:.2f}x")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
