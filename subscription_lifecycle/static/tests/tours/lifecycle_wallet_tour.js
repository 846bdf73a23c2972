import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("subscription_lifecycle_wallet_tour", {
    url: "/my/wallet",
    steps: () => [
        {
            content: "Choose how much to add",
            trigger: "#lifecycle_wallet_amount",
            run: "edit 100",
        },
        {
            trigger: "button.o_lifecycle_wallet_add",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Pay the top-up with the demo provider on Odoo's payment form",
            trigger: "button[name='o_payment_submit_button']:enabled",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back on the wallet, credited",
            trigger: ".o_lifecycle_wallet_balance:contains('100.00')",
            timeout: 20000,
        },
        {
            trigger: ".o_lifecycle_wallet_line:contains('Deposit')",
        },
        {
            content: "Go to the deadlines",
            trigger: ".o_portal_submenu a[href='/my/home']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            trigger: "a[href='/my/deadlines']:visible",
            run: "click",
            expectUnloadPage: true,
        },
        {
            trigger: ".o_lifecycle_portal_deadline a:contains('Tour wallet licence')",
            run: "click",
            expectUnloadPage: true,
        },
        {
            trigger: ".o_lifecycle_portal_deadline_page button.o_lifecycle_renew",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The balance covers the renewal: pay with it",
            trigger: ".o_lifecycle_pay_with_wallet button.o_lifecycle_pay_with_balance",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Confirmed, nothing left to pay",
            trigger: "body:has(#quote_content):not(:has(#o_sale_portal_paynow)):not(:has(.o_lifecycle_pay_with_wallet))",
        },
    ],
});
