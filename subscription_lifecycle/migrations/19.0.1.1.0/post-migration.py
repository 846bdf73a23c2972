"""19.0.1.1.0: bring existing databases to the fixes of the trust review (issue 9).

Records shipped ``noupdate`` are only changed where nobody has changed them
since they were installed, so an integrator's own edits are never lost.
"""

from odoo import SUPERUSER_ID, api

# The reminders now quote the renewal price with taxes (the customer's total).
REMINDER_TEMPLATES = (
    "mail_template_reminder_30",
    "mail_template_reminder_14",
    "mail_template_reminder_3",
    "mail_template_reminder_0",
)


def migrate(cr, version):
    env = api.Environment(cr, SUPERUSER_ID, {})
    for xmlid in REMINDER_TEMPLATES:
        template = env.ref(f"subscription_lifecycle.{xmlid}", raise_if_not_found=False)
        if template and template.write_date == template.create_date:
            template.reset_template()
    # The scheduler runs hourly, to catch each customer's own midnight.
    cron = env.ref("subscription_lifecycle.ir_cron_lifecycle_schedule", raise_if_not_found=False)
    if cron and (cron.interval_number, cron.interval_type) == (1, "days"):
        cron.write({"interval_type": "hours"})
    # The anchor day is the start date's: deadlines started on the 29th to
    # the 31st whose first expiry fell in a shorter month lost it.
    deadlines = env["lifecycle.deadline"].search([("state", "in", ("draft", "active", "expired"))])
    lost = deadlines.filtered(lambda deadline: deadline.anchor_day < deadline.date_start.day)
    env.add_to_compute(deadlines._fields["anchor_day"], lost)
    lost.flush_recordset(["anchor_day"])
    # Update steps write with their author's rights: the steps saved before
    # steps had authors answer to whoever saved them last.
    cr.execute("UPDATE lifecycle_workflow_step SET author_id = COALESCE(write_uid, create_uid) WHERE author_id IS NULL")
