from operator import itemgetter

from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools import groupby as groupbyelem

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

# What a customer sees of their deadlines: drafts are internal.
PORTAL_STATES = ("active", "expired", "closed", "cancelled")


class LifecyclePortal(CustomerPortal):
    """Thin routes: parse input, check access, hand off to the deadline model."""

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "deadline_count" in counters:
            values["deadline_count"] = request.env["lifecycle.deadline"].sudo().search_count(self._deadline_domain())
        return values

    def _deadline_domain(self):
        """The ownership filter: what the portal record rules give a customer.

        The portal reads deadlines in sudo with it, never without: an employee
        without Lifecycle rights is a customer too, and sees their own.
        """
        partner = request.env.user.partner_id
        return [
            ("commercial_partner_id", "=", partner.commercial_partner_id.id),
            ("state", "in", PORTAL_STATES),
            ("company_id", "in", request.env.companies.ids),
        ]

    def _deadline_searchbar(self):
        _ = request.env._
        sortings = {
            "expiry": {"label": _("Expiry date"), "order": "date_expiry, id"},
            "service": {"label": _("Service"), "order": "product_id, date_expiry, id"},
            "status": {"label": _("Status"), "order": "state, date_expiry, id"},
        }
        groupbys = {"none": {"label": _("None")}, "state": {"label": _("Status")}}
        inputs = {"service": {"input": "service", "label": _("Search in Services")}}
        return sortings, groupbys, inputs

    @http.route(["/my/deadlines", "/my/deadlines/page/<int:page>"], type="http", auth="user", website=True)
    def portal_my_deadlines(self, page=1, sortby="expiry", groupby="none", search=None, search_in="service", **kw):
        sortings, groupbys, inputs = self._deadline_searchbar()
        sortby = sortby if sortby in sortings else "expiry"
        groupby = groupby if groupby in groupbys else "none"
        search_in = search_in if search_in in inputs else "service"
        domain = self._deadline_domain()
        if search:
            # the deadline's name starts with its service: no product access needed
            domain.append(("name", "ilike", search))
        deadlines = request.env["lifecycle.deadline"].sudo()  # with the ownership filter
        pager = portal_pager(
            url="/my/deadlines",
            url_args={"sortby": sortby, "groupby": groupby, "search": search, "search_in": search_in},
            total=deadlines.search_count(domain),
            page=page,
            step=self._items_per_page,
        )
        order = sortings[sortby]["order"]
        if groupby == "state":
            order = f"state, {order}"
        found = deadlines.search(domain, order=order, limit=self._items_per_page, offset=pager["offset"])
        groups = [deadlines.concat(*group) for _state, group in groupbyelem(found, itemgetter("state"))]
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "page_name": "deadline",
                "default_url": "/my/deadlines",
                "pager": pager,
                "grouped_deadlines": groups if groupby == "state" else ([found] if found else []),
                "searchbar_sortings": sortings,
                "sortby": sortby,
                "searchbar_groupby": groupbys,
                "groupby": groupby,
                "searchbar_inputs": inputs,
                "search_in": search_in,
                "search": search,
                "state_labels": dict(deadlines._fields["state"]._description_selection(request.env)),
                "channel_options": self._channel_options(),
                "channel": request.env.user.partner_id.lifecycle_channel,
            }
        )
        values.update(self._telegram_values())
        request.session["my_deadlines_history"] = found.ids[:100]
        return request.render("subscription_lifecycle.portal_my_deadlines", values)

    def _telegram_values(self):
        """Connect or Disconnect Telegram, when the company has a bot: the customer's own partner only."""
        company = request.env.company
        if not company.lifecycle_telegram_bot_username:
            return {}
        partner = request.env.user.partner_id.sudo()
        linked = partner.lifecycle_telegram_chat_id and partner.lifecycle_telegram_company_id == company
        return {
            "telegram_linked": linked,
            "telegram_url": False if linked else partner._lifecycle_telegram_start_url(company),
        }

    @http.route("/my/telegram/disconnect", type="http", auth="user", methods=["POST"], website=True)
    def portal_telegram_disconnect(self, **kw):
        request.env.user.partner_id._lifecycle_telegram_unlink(
            request.env._("Telegram disconnected by the customer from the portal.")
        )
        return request.redirect("/my/deadlines")

    def _deadline_or_404(self, deadline_id, access_token):
        """The deadline in sudo for its owner, staff who may read it or the holder of its token; else 404."""
        if not request.env.user._is_public():
            # one's own, even as an employee without Lifecycle rights
            own_sudo = (
                request.env["lifecycle.deadline"].sudo().search([("id", "=", deadline_id), *self._deadline_domain()])
            )
            if own_sudo:
                return own_sudo
        try:
            deadline_sudo = self._document_check_access("lifecycle.deadline", deadline_id, access_token)
        except (AccessError, MissingError) as error:
            # the same answer whether the deadline exists or not
            raise NotFound() from error
        if deadline_sudo.state not in PORTAL_STATES:
            raise NotFound()
        return deadline_sudo

    @http.route(["/my/deadlines/<int:deadline_id>"], type="http", auth="public", website=True)
    def portal_my_deadline(self, deadline_id, access_token=None, **kw):
        deadline_sudo = self._deadline_or_404(deadline_id, access_token)
        values = self._get_page_view_values(
            deadline_sudo,
            access_token,
            {"page_name": "deadline", "deadline": deadline_sudo},
            "my_deadlines_history",
            False,
            **kw,
        )
        return request.render("subscription_lifecycle.portal_my_deadline", values)

    @http.route(["/my/deadlines/<int:deadline_id>/renew"], type="http", auth="public", methods=["POST"], website=True)
    def portal_deadline_renew(self, deadline_id, access_token=None, **kw):
        deadline_sudo = self._deadline_or_404(deadline_id, access_token)
        if not deadline_sudo.portal_can_renew:
            raise Forbidden(request.env._("This service cannot be renewed from the portal yet."))
        order_sudo = deadline_sudo._portal_renewal_order()
        return request.redirect(order_sudo.get_portal_url())

    @http.route(["/my/deadlines/<int:deadline_id>/autorenew"], type="http", auth="user", methods=["POST"], website=True)
    def portal_deadline_autorenew(self, deadline_id, autorenew=None, saved_method=None, wallet_first=None, **kw):
        """The owner switches automatic renewal on or off and picks one of their saved payment methods."""
        deadline_sudo = (
            request.env["lifecycle.deadline"].sudo().search([("id", "=", deadline_id), *self._deadline_domain()])
        )
        if not deadline_sudo:
            raise NotFound()
        try:
            token = request.env["payment.token"].sudo().browse(int(saved_method)) if saved_method else None
        except ValueError as error:
            raise BadRequest(request.env._("Choose one of your saved payment methods.")) from error
        try:
            with request.env.cr.savepoint():
                deadline_sudo._portal_set_autorenew(
                    bool(autorenew), token or request.env["payment.token"], bool(wallet_first)
                )
        except (UserError, ValidationError) as error:
            raise BadRequest(error.args[0]) from error
        return request.redirect(f"/my/deadlines/{deadline_id}")

    def _channel_options(self):
        return request.env["res.partner"]._fields["lifecycle_channel"]._description_selection(request.env)

    @http.route(["/my/deadlines/channel"], type="http", auth="user", methods=["POST"], website=True)
    def portal_deadline_channel(self, channel=None, **kw):
        """The customer chooses where their reminders go first."""
        if channel not in dict(self._channel_options()):
            raise BadRequest(request.env._("Choose one of the channels offered for your reminders."))
        # sudo: a portal user may not write their own contact; this one field is theirs to choose
        request.env.user.partner_id.sudo().lifecycle_channel = channel
        return request.redirect("/my/deadlines")
