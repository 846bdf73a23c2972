import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("subscription_lifecycle_deadline_tour", {
    steps: () => [
        {
            content: "Open the Deadlines tab of the customer",
            trigger: ".o_notebook .nav-link:contains('Deadlines')",
            run: "click",
        },
        {
            content: "Add a deadline",
            trigger: "div[name='lifecycle_deadline_ids'] .o_field_x2many_list_row_add a:contains('Add deadline')",
            run: "click",
        },
        {
            content: "Pick the service",
            trigger: ".modal div[name='product_id'] input",
            run: "edit Tour hosting",
        },
        {
            trigger: ".ui-menu-item a:contains('Tour hosting')",
            run: "click",
        },
        {
            content: "Set the expiry date",
            trigger: ".modal div[name='date_expiry'] input",
            run: "edit 01/31/2099",
        },
        {
            trigger: ".modal div[name='amount'] input",
            run: "edit 45",
        },
        {
            content: "Keep the deadline",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The deadline is listed on the card",
            trigger: "div[name='lifecycle_deadline_ids'] .o_data_row:contains('Tour hosting')",
        },
        {
            content: "Save the customer",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The smart button counts it",
            trigger: "button[name='action_view_lifecycle_deadlines'] .o_stat_value:contains('1')",
            run: "click",
        },
        {
            content: "Open the deadline",
            trigger: ".o_view_controller.o_list_view .o_data_row td[name='product_id']:contains('Tour hosting')",
            run: "click",
        },
        {
            content: "The form is loaded, still a draft",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Draft')",
        },
        {
            trigger: ".o-mail-Thread .o-mail-Message",
        },
        {
            content: "Activate it",
            trigger: "button[name='action_activate']",
            run: "click",
        },
        {
            content: "Renew it",
            trigger: ".o_statusbar_status button.o_arrow_button_current:contains('Active')",
        },
        {
            trigger: "button[name='action_renew']",
            run: "click",
        },
        {
            content: "Confirm the renewal",
            trigger: ".modal-footer button:contains('Ok')",
            run: "click",
        },
        {
            content: "The renewal is told in the chatter",
            trigger: ".o-mail-Message:contains('Renewed from')",
        },
        {
            trigger: "button[name='action_view_renewals'] .o_stat_value:contains('1')",
        },
    ],
});
