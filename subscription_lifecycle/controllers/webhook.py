from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..lib.webhook_inbound import MAX_BODY_BYTES


class LifecycleWebhook(http.Controller):
    """Incoming webhooks: another system's signed events for an incoming endpoint."""

    @http.route(
        "/lifecycle/webhook/<string:endpoint_uuid>",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
        # werkzeug answers 413 beyond this, before the body is read, whenever the
        # request has a Content-Type (it would parse a form); without one, see below
        max_content_length=MAX_BODY_BYTES,
    )
    def lifecycle_webhook_receive(self, endpoint_uuid, **_kwargs):
        # The sender is no user of ours: it proves who it is by the signature.
        # Everything runs as OdooBot, the technical user Odoo's own cron jobs
        # run as, in the endpoint's company (the customer and deadline
        # searches name the company, as the superuser passes record rules).
        request.update_env(user=SUPERUSER_ID)
        _ = request.env._
        endpoint = request.env["lifecycle.webhook.endpoint"].search(
            [("uuid", "=", endpoint_uuid), ("direction", "=", "inbound")], limit=1
        )
        if not endpoint:
            return request.make_json_response({"error": _("No such webhook endpoint.")}, status=404)
        length = request.httprequest.content_length
        if length is None:
            # Odoo's request offers no bounded read of a body of unknown length (chunked)
            return request.make_json_response({"error": _("Send the body with a Content-Length.")}, status=411)
        if length > MAX_BODY_BYTES:  # no Content-Type: werkzeug did not look
            return request.make_json_response(
                {"error": _("The body is over %(size)s KB.", size=MAX_BODY_BYTES // 1024)}, status=413
            )
        # at most Content-Length bytes (werkzeug limits the stream to it), cached should Odoo retry the request
        body = request.httprequest.get_data()
        headers = request.httprequest.headers
        status, answer = (
            request.env["lifecycle.webhook.inbound"]
            .with_company(endpoint.company_id)
            ._receive(
                endpoint.with_company(endpoint.company_id),
                headers.get("webhook-id", ""),
                headers.get("webhook-timestamp"),
                headers.get("webhook-signature", ""),
                body,
            )
        )
        return request.make_json_response(answer, status=status)
