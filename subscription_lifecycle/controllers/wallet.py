import math

from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request
from odoo.tools import float_compare, float_is_zero, format_amount

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment.controllers.portal import PaymentPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager


class LifecycleWalletPortal(PaymentPortal):
    """The customer's wallet: balance, history, top-ups, paying an order from the balance."""

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "wallet_count" in counters:
            # every portal customer may top up, with or without a wallet yet
            values["wallet_count"] = 1 if request.env.user._is_portal() else 0
        return values

    def _wallet_scope(self):
        """(customer's commercial entity, company, currency) of the portal wallet."""
        partner = request.env.user.partner_id.commercial_partner_id
        company = request.env.company
        return partner, company, company.currency_id

    def _parse_top_up(self, amount, currency, company):
        """The amount as a float, or raise BadRequest with a message the customer can act on."""
        _ = request.env._
        try:
            value = float(amount)
            if not math.isfinite(value):  # "inf", "-infinity", "nan"
                raise ValueError(amount)
        except (TypeError, ValueError) as error:
            raise BadRequest(_("Enter the amount to add as a number, like 50 or 49.90.")) from error
        if float_compare(value, 0.0, precision_rounding=currency.rounding) <= 0:
            raise BadRequest(_("Enter an amount greater than zero."))
        value = currency.round(value)
        if float_is_zero(value, precision_rounding=currency.rounding):
            raise BadRequest(_("Enter an amount greater than zero."))
        maximum = company.lifecycle_wallet_max_deposit
        if float_compare(value, maximum, precision_rounding=currency.rounding) > 0:
            raise BadRequest(
                _("You can add at most %(maximum)s at a time.", maximum=format_amount(request.env, maximum, currency))
            )
        return value

    @http.route(["/my/wallet", "/my/wallet/page/<int:page>"], type="http", auth="user", website=True)
    def portal_my_wallet(self, page=1, **kw):
        return self._render_wallet(page=page)

    def _render_wallet(self, page=1, error=None, status=200, back_url=None):
        # sudo with the ownership filter: an employee without Lifecycle rights
        # is a customer of the portal too and sees their own wallet
        partner, company, currency = self._wallet_scope()
        wallet = request.env["lifecycle.wallet"]._for_partner(partner, company, currency, create=False)
        ledger = request.env["lifecycle.wallet.transaction"].sudo()
        domain = [("wallet_id", "=", wallet.id), ("partner_id", "=", partner.id)]
        pager = portal_pager(
            url="/my/wallet", total=ledger.search_count(domain) if wallet else 0, page=page, step=self._items_per_page
        )
        lines = ledger.search(domain, limit=self._items_per_page, offset=pager["offset"]) if wallet else ledger
        next_renewal = (
            request.env["lifecycle.deadline"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "=", partner.id),
                    ("state", "in", ("active", "expired")),
                    ("company_id", "=", company.id),
                    ("currency_id", "=", currency.id),
                ],
                order="date_expiry",
                limit=1,
            )
        )
        # what the renewal order will cost, taxes included, if the wallet can pay it
        renewal_price, renewal_currency = next_renewal._renewal_price() if next_renewal else (0.0, currency)
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "wallet",
                "wallet": wallet,
                "balance": wallet.balance,
                "currency": currency,
                "lines": lines,
                "pager": pager,
                "next_renewal": next_renewal if renewal_currency == currency else next_renewal.browse(),
                "renewal_price": renewal_price,
                "max_deposit": company.lifecycle_wallet_max_deposit,
                "error": error,
                "back_url": back_url,
            }
        )
        return request.render("subscription_lifecycle.portal_my_wallet", values, status=status)

    @http.route("/my/wallet/add", type="http", methods=["GET"], auth="user", website=True)
    def portal_wallet_add(self, amount=None, **kw):
        """Odoo's payment form for a top-up of ``amount`` in the wallet's currency.

        Showing the form changes nothing: the wallet is opened with the first
        transaction (``portal_wallet_transaction``).
        """
        _partner, company, currency = self._wallet_scope()
        try:
            if kw.get("currency_id") and str(kw["currency_id"]) != str(currency.id):
                raise BadRequest(request.env._("Your wallet is kept in %(currency)s.", currency=currency.name))
            value = self._parse_top_up(amount, currency, company)
        except BadRequest as error:
            # the wallet page again, with the reason and a 400
            return self._render_wallet(error=error.description, status=400)
        payer = request.env.user.partner_id
        return self.payment_pay(
            reference="WALLET",
            amount=value,
            currency_id=currency.id,
            partner_id=payer.id,
            company_id=company.id,
            access_token=payment_utils.generate_access_token(payer.id, value, currency.id),
            lifecycle_top_up=True,
        )

    def _get_extra_payment_form_values(self, lifecycle_top_up=False, **kwargs):
        values = super()._get_extra_payment_form_values(**kwargs)
        if lifecycle_top_up:
            values.update(transaction_route="/my/wallet/transaction", landing_route="/my/wallet")
        return values

    @http.route("/my/wallet/transaction", type="jsonrpc", auth="user")
    def portal_wallet_transaction(self, access_token, amount=None, **kwargs):
        """A top-up of one's own wallet, opened here on first use."""
        partner, company, currency = self._wallet_scope()
        payer = request.env.user.partner_id
        value = self._parse_top_up(amount, currency, company)
        if not payment_utils.check_access_token(access_token, payer.id, value, currency.id):
            raise Forbidden()
        self._validate_transaction_kwargs(kwargs)
        kwargs.pop("is_validation", None)  # a top-up is a payment, never a card check
        wallet = request.env["lifecycle.wallet"]._for_partner(partner, company, currency)
        tx_sudo = self._create_transaction(
            amount=value,
            currency_id=currency.id,
            partner_id=payer.id,
            reference_prefix="WALLET",
            custom_create_values={"lifecycle_wallet_id": wallet.id},
            is_validation=False,
            **kwargs,
        )
        return tx_sudo._get_processing_values()

    @http.route("/my/orders/<int:order_id>/pay_with_wallet", type="http", methods=["POST"], auth="user", website=True)
    def portal_order_pay_with_wallet(self, order_id, access_token=None, **kw):
        try:
            order_sudo = self._document_check_access("sale.order", order_id, access_token)
        except (AccessError, MissingError) as error:
            raise NotFound() from error
        # spending a balance takes its owner, not just a link to the order
        if order_sudo.partner_id.commercial_partner_id != request.env.user.partner_id.commercial_partner_id:
            raise Forbidden()
        try:
            order_sudo._lifecycle_pay_with_wallet()
        except UserError as error:
            # the wallet page, saying why, with a way back to the order
            return self._render_wallet(error=error.args[0], status=400, back_url=order_sudo.get_portal_url())
        return request.redirect(order_sudo.get_portal_url())
