import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("subscription_lifecycle_workflow_tour", {
    steps: () => [
        {
            content: "Open the 30-day rung of the reminder ladder",
            trigger: ".o_view_controller.o_list_view .o_data_row td[name='name']:contains('Renewal reminder: 30 days')",
            run: "click",
        },
        {
            content: "It ships switched off",
            trigger: ".o_form_view .ribbon:contains('Off')",
        },
        {
            content: "Preview who would receive what today",
            trigger: "button[name='action_preview']",
            run: "click",
        },
        {
            content: "Today's audience is listed",
            trigger: ".modal div[name='deadline_ids'] .o_data_row:contains('Tour Preview Customer')",
        },
        {
            content: "The email is rendered, not sent",
            trigger: ".modal div[name='preview_subject']:contains('up for renewal in a month')",
        },
        {
            trigger: ".modal .o_lifecycle_preview_body:contains('Tour Preview Customer')",
        },
        {
            trigger: ".modal-footer button:contains('Close')",
            run: "click",
        },
        {
            content: "Switch it on",
            trigger: ".o_form_view:not(:has(.modal)) div[name='active'] input",
            run: "click",
        },
        {
            content: "The toggle saves at once; the ribbon is gone: the workflow is on",
            trigger: ".o_form_view:not(:has(.ribbon)):not(:has(.o_form_status_indicator_buttons:visible))",
        },
    ],
});
