import { registry } from "@web/core/registry";

// The test sets window.lifecycleWebhookUrl to its local server before starting the tour.
registry.category("web_tour.tours").add("subscription_lifecycle_webhook_tour", {
    steps: () => [
        {
            content: "Add an endpoint",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='name'] input",
            run: "edit Tour CRM",
        },
        {
            content: "Where its deliveries go",
            trigger: ".o_field_widget[name='url'] input",
            run: `edit ${window.lifecycleWebhookUrl}`,
        },
        {
            content: "A secret is generated for it",
            trigger: ".o_field_widget[name='secret']:contains('whsec_')",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Send it a test event",
            trigger: ".o_form_view:not(:has(.o_form_status_indicator_buttons:visible)) button[name='action_send_test']",
            run: "click",
        },
        {
            content: "Its delivery log lists the test event, waiting for the sender",
            trigger: ".o_list_view .o_data_row:contains('webhook.test'):contains('Pending') td[name='event_type']",
            run: "click",
        },
        {
            content: "The delivery carries its webhook id",
            trigger: ".o_form_view div[name='msg_id']:contains('msg_')",
        },
    ],
});
