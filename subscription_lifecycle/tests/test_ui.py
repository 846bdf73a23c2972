from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestUi(HttpCase):
    def test_lifecycle_user_opens_the_menu(self):
        new_test_user(self.env, login="lc_tour_user", groups="subscription_lifecycle.group_lifecycle_user")
        self.env["lifecycle.origin"].create({"name": "Trade fair"})
        self.start_tour("/odoo", "subscription_lifecycle_menu_tour", login="lc_tour_user")
