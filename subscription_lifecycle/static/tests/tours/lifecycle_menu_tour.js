import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

registry.category("web_tour.tours").add("subscription_lifecycle_menu_tour", {
    url: "/odoo",
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Lifecycle app",
            trigger: '.o_app[data-menu-xmlid="subscription_lifecycle.menu_lifecycle_root"]',
            run: "click",
        },
        {
            content: "Open the configuration menu",
            trigger: 'button[data-menu-xmlid="subscription_lifecycle.menu_lifecycle_configuration"]',
            run: "click",
        },
        {
            content: "Open the origins",
            trigger: 'a[data-menu-xmlid="subscription_lifecycle.menu_lifecycle_origin"]',
            run: "click",
        },
        {
            content: "The origin list shows the origin, read-only for a user",
            trigger: ".o_list_view .o_data_cell:contains('Trade fair')",
        },
        {
            content: "A Lifecycle User cannot add origins",
            trigger: ".o_list_view:not(:has(.o_list_button_add))",
        },
    ],
});
