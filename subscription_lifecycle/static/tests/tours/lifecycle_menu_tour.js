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
            content: "The app opens on its overview dashboard",
            trigger: ".o_lifecycle_cockpit .o_breadcrumb:contains('Overview')",
        },
        {
            content: "The deadlines are a click away",
            trigger: 'a[data-menu-xmlid="subscription_lifecycle.menu_lifecycle_deadline"]',
            run: "click",
        },
        {
            trigger: ".o_breadcrumb:contains('Deadlines')",
        },
        {
            content: "A Lifecycle User has no configuration menu",
            trigger:
                ".o_main_navbar:not(:has([data-menu-xmlid='subscription_lifecycle.menu_lifecycle_configuration']))",
        },
        {
            content: "Open the callbacks of the day",
            trigger: 'a[data-menu-xmlid="subscription_lifecycle.menu_lifecycle_callbacks"]',
            run: "click",
        },
        {
            trigger: ".o_breadcrumb:contains('Callbacks today')",
        },
    ],
});
