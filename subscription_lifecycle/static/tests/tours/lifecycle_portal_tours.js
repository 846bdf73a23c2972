import { registry } from "@web/core/registry";

/** From a deadline's portal page: Renew, then pay the renewal order with the demo provider. */
function renewAndPay() {
    return [
        {
            content: "Renew from the deadline page",
            trigger: ".o_lifecycle_portal_deadline_page button.o_lifecycle_renew",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Odoo's own order page opens: pay it",
            trigger: "#o_sale_portal_paynow",
            run: "click",
        },
        {
            content: "Pay with the demo provider",
            trigger: "#modalaccept button[name='o_payment_submit_button']:enabled",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back on the order, paid and confirmed: nothing left to pay",
            trigger: "body:has(#quote_content):not(:has(#o_sale_portal_paynow))",
            timeout: 20000,
        },
    ];
}

registry.category("web_tour.tours").add("subscription_lifecycle_portal_renewal_tour", {
    url: "/my/deadlines",
    steps: () => [
        {
            content: "The service is listed with its days left",
            trigger: ".o_lifecycle_portal_deadline:contains('Tour portal licence') .o_lifecycle_days_left",
        },
        {
            content: "Open it",
            trigger: ".o_lifecycle_portal_deadline a:contains('Tour portal licence')",
            run: "click",
            expectUnloadPage: true,
        },
        ...renewAndPay(),
    ],
});

registry.category("web_tour.tours").add("subscription_lifecycle_token_renewal_tour", {
    steps: () => [
        {
            content: "The visitor sees the one deadline of the link",
            trigger: ".o_lifecycle_portal_deadline_page:contains('Tour token licence')",
        },
        ...renewAndPay(),
    ],
});
