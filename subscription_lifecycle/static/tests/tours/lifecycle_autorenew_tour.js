import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("subscription_lifecycle_autorenew_tour", {
    steps: () => [
        {
            content: "Choose the demo provider to save a card",
            trigger: "input[name='o_payment_radio'][data-payment-option-type='payment_method'][data-provider-code='demo']",
            run: "click",
        },
        {
            content: "Type the card",
            trigger: "#customer_input",
            run: "edit 4242424242424242",
        },
        {
            content: "Save it",
            trigger: "button[name='o_payment_submit_button']:enabled",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The card is saved among the payment methods",
            trigger: "button[name='o_payment_delete_token']",
        },
        {
            content: "Go to the services",
            trigger: "body",
            run: "goToUrl /my/deadlines",
            expectUnloadPage: true,
        },
        {
            content: "Open the service",
            trigger: "a:contains('Tour maintenance')",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Switch automatic renewal on",
            trigger: "#o_lifecycle_autorenew",
            run: "check",
        },
        {
            content: "Pay with the saved card",
            trigger: "select[name='saved_method']",
            run: "selectByIndex 1",
        },
        {
            content: "Save the choice",
            trigger: ".o_lifecycle_autorenew button[type='submit']",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Automatic renewal is on",
            trigger: "#o_lifecycle_autorenew:checked",
        },
    ],
});
