import json

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..lib.telegram import secret_matches

MAX_UPDATE_BYTES = 64 * 1024  # an Update with a text message is a few KB


class LifecycleTelegram(http.Controller):
    """The Telegram bot's webhook: Updates from Telegram, proven by the company's secret."""

    @http.route(
        "/lifecycle/telegram/<int:company_id>/webhook",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
        max_content_length=MAX_UPDATE_BYTES,
    )
    def lifecycle_telegram_webhook(self, company_id, **_kwargs):
        # Telegram is no user of ours: it proves itself with the secret token
        # the webhook was registered with. The rest runs as OdooBot.
        request.update_env(user=SUPERUSER_ID)
        company = request.env["res.company"].browse(company_id).exists()
        received = request.httprequest.headers.get("X-Telegram-Bot-Api-Secret-Token")
        if not company or not secret_matches(received, company.lifecycle_telegram_secret):
            return request.make_json_response({"error": request.env._("Forbidden.")}, status=403)
        try:
            update = json.loads(request.httprequest.get_data() or b"null")
        except ValueError:
            update = None
        # any other answer than 200 makes Telegram send the update again and again: what we do not read, we ignore
        answer = request.env["res.partner"].with_company(company)._lifecycle_telegram_receive(company, update)
        return request.make_json_response(answer)
