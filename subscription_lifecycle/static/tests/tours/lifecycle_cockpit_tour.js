import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

registry.category("web_tour.tours").add("subscription_lifecycle_cockpit_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Lifecycle app",
            trigger: '.o_app[data-menu-xmlid="subscription_lifecycle.menu_lifecycle_root"]',
            run: "click",
        },
        {
            content: "The app opens on the dashboard, the deadline about to expire listed",
            trigger: ".o_lifecycle_upcoming_row:contains('Tour Cockpit Customer'):contains('in 2 days')",
        },
        {
            content: "Note how the call went",
            trigger: ".o_lifecycle_todo_row:contains('Tour Cockpit Customer') .o_lifecycle_note",
            run: "edit Will renew next week",
        },
        {
            content: "Mark the callback done",
            trigger: ".o_lifecycle_todo_row:contains('Tour Cockpit Customer') .o_lifecycle_done",
            run: "click",
        },
        {
            content: "The callback leaves the list, the dashboard stays",
            trigger: ".o_lifecycle_todo:contains('No callback due today')",
        },
        {
            content: "Follow the deadlines due in 30 days",
            trigger: ".o_lifecycle_kpi[data-kpi='due']",
            run: "click",
        },
        {
            content: "Their list opens",
            trigger: ".o_breadcrumb:contains('Due in 30 days')",
        },
        {
            trigger: ".o_list_view .o_data_row:contains('Tour Cockpit Customer')",
        },
    ],
});
