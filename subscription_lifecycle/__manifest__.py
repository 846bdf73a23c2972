{
    "name": "Subscription Lifecycle",
    "summary": "Customers' expiring services, renewal reminders, portal renewals and a prepaid wallet",
    "version": "19.0.1.0.0",
    "category": "Sales/Subscriptions",
    "website": "https://github.com/subscription-lifecycle/subscription_lifecycle",
    "author": "Subscription Lifecycle developers",
    "maintainers": [],
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": ["mail"],
    "external_dependencies": {
        "python": ["phonenumbers", "python-dateutil", "requests"],
    },
    "data": [
        "security/lifecycle_security.xml",
        "security/ir.model.access.csv",
        "views/lifecycle_origin_views.xml",
        "views/lifecycle_institution_views.xml",
        "views/lifecycle_menus.xml",
    ],
    "demo": [
        "demo/lifecycle_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "subscription_lifecycle/static/tests/tours/**/*",
        ],
    },
}
