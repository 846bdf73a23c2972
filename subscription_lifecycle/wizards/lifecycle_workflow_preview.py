from odoo import api, fields, models


class LifecycleWorkflowPreview(models.TransientModel):
    """Who a workflow would reach today, and what one of them would receive.

    Nothing is sent: the email is rendered, never queued.
    """

    _name = "lifecycle.workflow.preview"
    _description = "Workflow preview"

    workflow_id = fields.Many2one("lifecycle.workflow", required=True, ondelete="cascade")
    model_name = fields.Char(related="workflow_id.model_name")
    deadline_ids = fields.Many2many("lifecycle.deadline", compute="_compute_matches", string="Deadlines today")
    partner_ids = fields.Many2many("res.partner", compute="_compute_matches", string="Customers today")
    invoice_ids = fields.Many2many("account.move", compute="_compute_matches", string="Invoices today")
    match_count = fields.Integer(compute="_compute_matches")
    deadline_id = fields.Many2one("lifecycle.deadline", string="Preview for deadline")
    partner_id = fields.Many2one("res.partner", string="Preview for customer")
    invoice_id = fields.Many2one("account.move", string="Preview for invoice")
    email_step_id = fields.Many2one("lifecycle.workflow.step", compute="_compute_email_step")
    template_id = fields.Many2one(related="email_step_id.mail_template_id", string="Email template")
    preview_subject = fields.Char(compute="_compute_preview")
    preview_body = fields.Html(compute="_compute_preview", sanitize=False)

    @api.depends("workflow_id")
    def _compute_matches(self):
        for preview in self:
            records = preview.workflow_id._matching_today() if preview.workflow_id else self.env["res.partner"]
            preview.deadline_ids = records if records._name == "lifecycle.deadline" else False
            preview.partner_ids = records if records._name == "res.partner" else False
            preview.invoice_ids = records if records._name == "account.move" else False
            preview.match_count = len(records)

    @api.depends("workflow_id")
    def _compute_email_step(self):
        for preview in self:
            steps = preview.workflow_id.step_ids.sorted().filtered(lambda step: step.step_type == "email")
            preview.email_step_id = steps[:1]

    @api.onchange("workflow_id")
    def _onchange_workflow_id(self):
        self.deadline_id = self.deadline_ids[:1]
        self.partner_id = self.partner_ids[:1]
        self.invoice_id = self.invoice_ids[:1]

    @api.depends("email_step_id", "deadline_id", "partner_id", "invoice_id")
    def _compute_preview(self):
        for preview in self:
            record = {
                "lifecycle.deadline": preview.deadline_id,
                "account.move": preview.invoice_id,
            }.get(preview.model_name, preview.partner_id)._origin
            if not preview.template_id or not record:
                preview.preview_subject = preview.preview_body = False
                continue
            template = preview.template_id.with_context(lifecycle_offer=preview.email_step_id.offer_text or "")
            preview.preview_subject = template._render_field("subject", record.ids)[record.id]
            preview.preview_body = template._render_field("body_html", record.ids)[record.id]
