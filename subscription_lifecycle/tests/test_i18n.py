import re
from datetime import date, datetime, timedelta

import polib
from lxml import etree

from odoo.modules.module import get_manifest
from odoo.tests import tagged
from odoo.tools.misc import file_path
from odoo.tools.translate import TranslationModuleReader, get_po_paths

from ..lib.i18n_check import problems
from .common import LifecycleCommon

# The addon and its bridges: every term of each must be translated.
MODULES = ("subscription_lifecycle", "subscription_lifecycle_mass_mailing")
# The languages the product ships (i18n/de.po, ru.po, es.po, fr.po), as Odoo codes them.
LANGS = ("de_DE", "ru_RU", "es_ES", "fr_FR")
TODAY = date(2090, 6, 1)
NOW = datetime(2090, 6, 1, 8, 0)
SUBJECT_30 = "Your {{ object.product_id.name }} is up for renewal in a month"
# What the 30-day reminder says in English: none of it may reach a customer of another language.
RUSSIAN_CUSTOMER = "ООО «Ромашка»"  # noqa: RUF001 (Cyrillic on purpose)
CYRILLIC = "[\u0400-\u04ff]"
ENGLISH = ("up for renewal", "friendly heads-up", "Renew now", "Kind regards", "taxes included")


@tagged("post_install", "-at_install")
class TestTranslations(LifecycleCommon):
    def _load_language(self, code):
        """Activate ``code`` and load the addons' terms, as installing a language does."""
        lang = self.env["res.lang"]._activate_lang(code)
        self.assertTrue(lang, f"Odoo knows no language {code}")
        self.env["ir.module.module"]._load_module_terms(list(MODULES), [code], overwrite=True)
        self.env.invalidate_all()
        return lang

    def _po_entries(self, module, code):
        """The entries of the module's .po files for ``code``, found as Odoo finds them."""
        return [entry for path in get_po_paths(module, code) for entry in polib.pofile(path) if not entry.obsolete]

    def _demo_xmlids(self):
        """The records the modules' demo files create, with the parents they create
        through ``_inherits`` (a demo product's template): demo data stays in English,
        as in Odoo's own modules, whose .pot files come from databases without demo."""
        created = [
            self.env.ref(xml_id if "." in xml_id else f"{module}.{xml_id}")
            for module in MODULES
            for path in get_manifest(module).get("demo", [])
            if path.endswith(".xml")
            for xml_id in etree.parse(file_path(f"{module}/{path}")).xpath("//record/@id")
        ]
        parents = [record[field] for record in created for field in record._inherits.values()]
        return {
            imd.complete_name
            for record in created + parents
            for imd in self.env["ir.model.data"].search([("model", "=", record._name), ("res_id", "=", record.id)])
        }

    def test_every_term_of_the_addon_and_its_bridge_is_translated_in_each_language(self):
        demo = self._demo_xmlids()
        self.assertTrue(demo, "the demo files are read")
        for code in LANGS:
            with self.subTest(lang=code):
                self._load_language(code)
                # a term kept as it is (ID, SMS, URL…) is translated, but reads as untranslated
                kept = {
                    (module, entry.msgid)
                    for module in MODULES
                    for entry in self._po_entries(module, code)
                    if entry.msgstr == entry.msgid
                }
                # the terms Odoo extracts from the installed code and data now, not the .pot
                reader = TranslationModuleReader(self.env.cr, modules=list(MODULES), lang=code)
                missing = sorted(
                    {
                        f"{module} {kind}:{name}:{res_id}: {source!r}"
                        for module, kind, name, res_id, source, value, _comments in reader
                        if module in MODULES and not value and (module, source) not in kept and res_id not in demo
                    }
                )
                if missing:
                    self.fail(f"{len(missing)} terms without a {code} translation:\n" + "\n".join(missing))

    def test_every_translation_keeps_the_placeholders_and_tags_of_its_term(self):
        for code in LANGS:
            for module in MODULES:
                with self.subTest(lang=code, module=module):
                    self.assertTrue(self._po_entries(module, code), f"{module} has no {code} translation file")
                    broken = [
                        f"{entry.msgid!r}: {', '.join(found)}"
                        for entry in self._po_entries(module, code)
                        if (found := problems(entry.msgid, entry.msgstr))
                    ]
                    if broken:
                        self.fail(f"{module} {code}, translations that break their term:\n" + "\n".join(broken))

    def _reminder_to(self, name, code):
        """The 30-day renewal reminder the scheduler and the engine send to a customer writing ``code``."""
        self._load_language(code)
        customer = self.env["res.partner"].create({"name": name, "email": "customer@example.com", "lang": code})
        self.env.ref("subscription_lifecycle.workflow_reminder_30").active = True
        deadline = self._deadline(
            partner_id=customer.id, expiry=TODAY + timedelta(days=30), date_start=TODAY - timedelta(days=335)
        )
        self.env["lifecycle.deadline"]._cron_schedule(now=NOW)
        self.env["lifecycle.workflow.run"]._cron_engine(now=NOW)
        mail = self.env["mail.mail"].search([("model", "=", deadline._name), ("res_id", "=", deadline.id)])
        self.assertEqual(len(mail), 1, "one reminder is sent")
        self.assertIn(customer, mail.recipient_ids)
        for english in ENGLISH:
            self.assertNotIn(english, mail.subject)
            self.assertNotIn(english, mail.body_html)
        return mail

    def test_a_german_customer_gets_the_renewal_reminder_in_german(self):
        mail = self._reminder_to("Müller Haustechnik GmbH", "de_DE")
        self.assertEqual(mail.subject, "Ihre Leistung Maintenance contract steht in einem Monat zur Verlängerung an")
        self.assertIn("Guten Tag Müller Haustechnik GmbH,", mail.body_html)
        self.assertIn("Ein freundlicher Hinweis: Ihre Leistung", mail.body_html)
        self.assertIn("Jetzt verlängern", mail.body_html)
        self.assertIn("Mit freundlichen Grüßen", mail.body_html)

    def test_a_russian_customer_gets_the_renewal_reminder_in_russian(self):
        mail = self._reminder_to(RUSSIAN_CUSTOMER, "ru_RU")
        # what ru.po says, so that the test follows the translator's wording
        subject = next(e.msgstr for e in self._po_entries(MODULES[0], "ru_RU") if e.msgid == SUBJECT_30)
        self.assertEqual(mail.subject, subject.replace("{{ object.product_id.name }}", "Maintenance contract"))
        template = self.env.ref("subscription_lifecycle.mail_template_reminder_30")
        button = re.search(r">([^<>]+)</a>", template.with_context(lang="ru_RU").body_html).group(1).strip()
        self.assertRegex(button, CYRILLIC, "the renew button of the Russian template is in Russian")
        self.assertIn(button, mail.body_html)
        self.assertIn(RUSSIAN_CUSTOMER, mail.body_html)
