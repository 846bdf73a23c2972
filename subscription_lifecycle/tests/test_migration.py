import importlib.util
from datetime import date
from pathlib import Path

from odoo import Command
from odoo.tests import tagged

from .common import LifecycleCommon

MIGRATION = Path(__file__).parent.parent / "migrations" / "19.0.1.1.0" / "post-migration.py"


def migrate(cr, version):
    spec = importlib.util.spec_from_file_location("subscription_lifecycle_post_migration_19_0_1_1_0", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.migrate(cr, version)


@tagged("post_install", "-at_install")
class TestMigration(LifecycleCommon):
    def test_an_upgraded_database_gets_the_fixes_and_keeps_its_own_edits(self):
        # a database as 19.0.1.0.0 left it
        cr = self.env.cr
        shipped = self.env.ref("subscription_lifecycle.mail_template_reminder_30")
        edited = self.env.ref("subscription_lifecycle.mail_template_reminder_14")
        cr.execute(
            "UPDATE mail_template SET body_html = jsonb_build_object('en_US', '<p>Renewing costs 1,200.00.</p>'),"
            " write_date = create_date WHERE id = %s",
            [shipped.id],
        )
        cr.execute(
            "UPDATE mail_template SET body_html = jsonb_build_object('en_US', '<p>Our own words.</p>'),"
            " write_date = create_date + interval '1 day' WHERE id = %s",
            [edited.id],
        )
        cron = self.env.ref("subscription_lifecycle.ir_cron_lifecycle_schedule")
        cron.write({"interval_type": "days"})
        deadline = self._deadline(product=self.monthly, date_start=date(2027, 1, 31), expiry=date(2027, 2, 28))
        workflow = self.env["lifecycle.workflow"].create(
            {
                "name": "Flag lapsed customers",
                "event_type": "deadline_expired",
                "step_ids": [
                    Command.create(
                        {"step_type": "update", "update_field_id": self._field("quantity").id, "update_value": "2"}
                    )
                ],
            }
        )
        step = workflow.step_ids
        cr.execute("UPDATE lifecycle_deadline SET anchor_day = 28 WHERE id = %s", [deadline.id])
        cr.execute("UPDATE lifecycle_workflow_step SET author_id = NULL WHERE id = %s", [step.id])
        self.env.invalidate_all()

        migrate(cr, "19.0.1.0.0")
        self.env.invalidate_all()

        self.assertIn("taxes included", shipped.body_html, "the shipped reminder quotes the price with tax")
        self.assertIn("Our own words", edited.body_html, "an integrator's own edit stays")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "hours"))
        self.assertEqual(deadline.anchor_day, 31)
        self.assertEqual(step.author_id, step.write_uid)

    def _field(self, name):
        return self.env["ir.model.fields"]._get("lifecycle.deadline", name)
