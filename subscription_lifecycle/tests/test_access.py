from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import LifecycleCommon


@tagged("post_install", "-at_install")
class TestAccess(LifecycleCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = cls.env["lifecycle.origin"].create({"name": "Tender", "company_id": cls.company.id})
        cls.foreign_origin = cls.env["lifecycle.origin"].create(
            {"name": "Foreign tender", "company_id": cls.other_company.id}
        )

    def test_employee_without_group_sees_nothing(self):
        for model in ("lifecycle.origin", "lifecycle.institution"):
            with self.assertRaises(AccessError):
                self.env[model].with_user(self.employee).search([])

    def test_user_reads_configuration_but_cannot_change_it(self):
        origins = self.env["lifecycle.origin"].with_user(self.lc_user)
        self.assertIn(self.origin, origins.search([]))
        with self.assertRaises(AccessError):
            origins.create({"name": "Phone call"})
        with self.assertRaises(AccessError):
            self.origin.with_user(self.lc_user).write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            self.origin.with_user(self.lc_user).unlink()
        self.assertEqual(self.origin.name, "Tender")

    def test_manager_maintains_configuration(self):
        institutions = self.env["lifecycle.institution"].with_user(self.lc_manager)
        institution = institutions.create({"name": "Land registry"})
        self.assertEqual(institution.company_id, self.company)
        institution.write({"name": "National land registry"})
        institution.unlink()
        self.assertFalse(institution.exists())

    def test_records_of_another_company_are_invisible(self):
        origins = self.env["lifecycle.origin"].with_user(self.lc_user).with_company(self.company)
        visible = origins.with_context(allowed_company_ids=[self.company.id]).search([])
        self.assertIn(self.origin, visible)
        self.assertNotIn(self.foreign_origin, visible)
        both = origins.with_context(allowed_company_ids=[self.company.id, self.other_company.id]).search([])
        self.assertIn(self.foreign_origin, both)
