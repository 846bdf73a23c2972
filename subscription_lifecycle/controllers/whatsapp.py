import hmac

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..lib.whatsapp import MAX_BODY_BYTES, read_statuses, signature_valid


class LifecycleWhatsapp(http.Controller):
    """Meta's calls about a company's WhatsApp messages: the callback URL check, and delivery statuses.

    One URL per company (its id in the path): each company has its own Meta
    app, whose secret signs the calls and whose verify token checks the URL.
    """

    @http.route(
        "/lifecycle/whatsapp/<int:company_id>/webhook",
        type="http",
        auth="none",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        readonly=False,
        max_content_length=MAX_BODY_BYTES,
    )
    def lifecycle_whatsapp_webhook(self, company_id, **params):
        # Meta is no user of ours: it proves who it is by the verify token or the signature.
        request.update_env(user=SUPERUSER_ID)
        company = request.env["res.company"].browse(company_id).exists()
        if request.httprequest.method == "GET":
            return self._verify(company, params)
        _ = request.env._
        if request.httprequest.content_length is None:
            return request.make_json_response({"error": _("Send the body with a Content-Length.")}, status=411)
        body = request.httprequest.get_data()
        signature = request.httprequest.headers.get("X-Hub-Signature-256", "")
        if not company or not signature_valid(body, signature, company.lifecycle_whatsapp_app_secret):
            return request.make_json_response({"error": _("The signature is missing or wrong.")}, status=403)
        try:
            statuses = read_statuses(body)
        except ValueError:
            return request.make_json_response({"error": _("The body is not a JSON object.")}, status=400)
        if not request.env["lifecycle.message"].with_company(company)._whatsapp_statuses(company, statuses):
            # some messages are still being sent: Meta sends the call again later
            return request.make_json_response(
                {"error": _("Some messages are being sent: try again later.")}, status=503
            )
        return request.make_json_response({"status": "ok"})

    def _verify(self, company, params):
        """Meta's check of the callback URL: its challenge back when the verify token is the company's."""
        expected = company.lifecycle_whatsapp_verify_token if company else ""
        given = params.get("hub.verify_token") or ""
        if (
            params.get("hub.mode") == "subscribe"
            and expected
            and hmac.compare_digest(given.encode(), expected.encode())
        ):
            return request.make_response(params.get("hub.challenge") or "", headers=[("Content-Type", "text/plain")])
        return request.make_response(
            request.env._("The verify token is not this company's."),
            headers=[("Content-Type", "text/plain")],
            status=403,
        )
