from odoo.tests import tagged

from .test_engine import NOW, EngineCommon


@tagged("post_install", "-at_install")
class TestTagSteps(EngineCommon):
    """Issue 12, item 6: a workflow tags the customer's company for marketing, and takes the tag away."""

    def test_a_cancellation_tags_the_customers_company_and_a_new_deadline_untags_it(self):
        lapsed = self.env["res.partner.category"].create({"name": "Lapsed"})
        contact = self.env["res.partner"].create({"name": "Ann Buyer", "parent_id": self.customer.id})
        segment = f"[('partner_id', '=', {contact.id})]"
        adding = self._workflow(
            "deadline_cancelled", [{"step_type": "tag_add", "partner_category_id": lapsed.id}], domain=segment
        )
        self._deadline(partner_id=contact.id).with_user(self.lc_user).action_cancel()
        self.Run._cron_engine(now=NOW)
        self.assertIn(lapsed, self.customer.category_id, "on the company the contact works for")
        self.assertNotIn(lapsed, contact.category_id)
        self.assertEqual(adding.run_ids.log_ids.message, "Tag Lapsed added to Azure Interior.")

        removing = self._workflow(
            "deadline_created", [{"step_type": "tag_remove", "partner_category_id": lapsed.id}], domain=segment
        )
        self._deadline(partner_id=contact.id)
        self.Run._cron_engine(now=NOW)
        self.assertNotIn(lapsed, self.customer.category_id)
        self.assertEqual(removing.run_ids.log_ids.message, "Tag Lapsed removed from Azure Interior.")

    def test_a_tag_step_needs_its_tag(self):
        self.assertRefused("is not complete", self._workflow, "deadline_cancelled", [{"step_type": "tag_add"}])
