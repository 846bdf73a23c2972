"""Tests of tools/dev.py on this machine's real files and processes (no Odoo needed)."""

import os
import pwd
import re
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tools import dev, screenshots


def _executable(folder, name):
    path = Path(folder) / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


class TestExternallyManagedPython(unittest.TestCase):
    def test_a_marked_system_python_is_externally_managed_a_venv_is_not(self):
        with tempfile.TemporaryDirectory() as stdlib:
            self.assertFalse(dev.externally_managed("/usr", "/usr", stdlib))
            (Path(stdlib) / "EXTERNALLY-MANAGED").write_text("[externally-managed]\n")
            self.assertTrue(dev.externally_managed("/usr", "/usr", stdlib))
            self.assertFalse(dev.externally_managed("/work/.venv", "/usr", stdlib), "a venv takes pip installs")


class TestPostgresRole(unittest.TestCase):
    def test_the_role_is_the_process_user_not_a_stale_user_variable(self):
        with mock.patch.dict(os.environ, {"USER": "somebody-else", "LOGNAME": "somebody-else"}):
            self.assertEqual(dev.process_user(), pwd.getpwuid(os.geteuid()).pw_name)


class TestFindChrome(unittest.TestCase):
    def setUp(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = folder.name
        patcher = mock.patch.dict(os.environ)
        patcher.start()
        self.addCleanup(patcher.stop)
        os.environ.pop("CHROME_BIN", None)

    def test_chrome_is_found_by_any_usual_name_in_path(self):
        for name in ("google-chrome-stable", "chromium-browser", "chrome"):
            with self.subTest(name=name), tempfile.TemporaryDirectory() as folder:
                chrome = _executable(folder, name)
                self.assertEqual(dev.find_chrome(path=folder, candidates=()), chrome)

    def test_chrome_is_found_at_a_usual_path_outside_path(self):
        chrome = _executable(self.folder, "Google Chrome")
        self.assertEqual(dev.find_chrome(path=self.folder + "/empty", candidates=("/nowhere/chrome", chrome)), chrome)
        self.assertIsNone(dev.find_chrome(path=self.folder + "/empty", candidates=("/nowhere/chrome",)))

    def test_chrome_bin_names_the_browser(self):
        chrome = _executable(self.folder, "my-chrome")
        os.environ["CHROME_BIN"] = chrome
        self.assertEqual(dev.find_chrome(path=self.folder + "/empty", candidates=()), chrome)
        os.environ["CHROME_BIN"] = self.folder + "/missing"
        self.assertIsNone(dev.find_chrome(path=self.folder, candidates=()))

    def test_odoo_finds_a_browser_with_an_unusual_name_through_a_link(self):
        chrome = _executable(self.folder, "Google Chrome")
        folder = dev.chrome_path_dir(chrome, self.folder)
        link = Path(folder) / "chromium"
        self.assertIn(link.name, dev.ODOO_CHROME_NAMES)
        self.assertEqual(os.path.realpath(link), os.path.realpath(chrome))


class TestRunServesLocally(unittest.TestCase):
    def _command(self, *argv):
        args = dev.build_parser().parse_args(["run", *argv])
        return dev.server_command(["odoo-bin"], "addons", args, exists=True)

    def test_the_demo_database_is_served_on_loopback_by_default(self):
        with mock.patch.dict(os.environ):
            os.environ.pop("LIFECYCLE_INTERFACE", None)
            self.assertIn("--http-interface=127.0.0.1", self._command())
            self.assertIn("--http-interface=0.0.0.0", self._command("--interface", "0.0.0.0"))  # noqa: S104


class TestPytestVerdict(unittest.TestCase):
    """What makes the pytest run of the Odoo tests red, besides a failing test."""

    def test_a_green_run_gives_no_reason(self):
        self.assertEqual(dev.pytest_reasons(0, "======== 150 passed in 412.30s (0:06:52) ========\n"), [])

    def test_no_test_collected_is_a_failure(self):
        self.assertEqual(dev.pytest_reasons(5, "======== no tests ran in 0.52s ========\n"), ["no test ran"])

    def test_a_skipped_test_is_not_a_passing_one(self):
        reasons = dev.pytest_reasons(0, "======== 148 passed, 2 skipped in 400.01s ========\n")
        self.assertEqual(reasons, ["2 test(s) skipped: a skipped test is not a passing one"])

    def test_a_failure_is_reported_with_pytest_exit_code(self):
        self.assertEqual(dev.pytest_reasons(1, "=== 1 failed, 149 passed in 401.00s ===\n"), ["pytest exited with 1"])

    def test_the_summary_line_is_recognised(self):
        self.assertTrue(dev.SUMMARY_RE.search("148 passed, 1 warning, 44 subtests passed in 392.09s (0:06:32)\n"))
        self.assertTrue(dev.SUMMARY_RE.search("1 failed, 147 deselected, 1 warning in 6.53s\n"))
        self.assertTrue(dev.SUMMARY_RE.search("======= 150 passed, 16 subtests passed in 412.30s (0:06:52) ========"))
        self.assertTrue(dev.SUMMARY_RE.search("=================== no tests ran in 0.52s ==================="))
        self.assertFalse(dev.SUMMARY_RE.search("subscription_lifecycle/tests/test_ui.py ....   [ 33%]"))
        self.assertFalse(dev.SUMMARY_RE.search("2026-11-21 16:03:10,330 28894 INFO ? odoo: 3 passed in 1.0s"))

    def test_k_selects_tests_by_name(self):
        args = dev.build_parser().parse_args(["test", "-k", "TestWallet"])
        command = dev.pytest_odoo_command("a,b", "db", Path("workdir"), args)
        self.assertEqual(command[command.index("-k") + 1], "TestWallet")
        self.assertIn("--odoo-database=db", command)
        self.assertIn("--odoo-http", command)

    def test_the_bridges_tests_run_with_the_addons(self):
        args = dev.build_parser().parse_args(["test"])
        command = dev.pytest_odoo_command("a,b", "db", Path("workdir"), args)
        self.assertIn("subscription_lifecycle/tests", command)
        self.assertIn("subscription_lifecycle_mass_mailing/tests", command)


class TestBridges(unittest.TestCase):
    """The bridge addons of the repository are linted, found and installed with their apps for the tests."""

    def test_every_bridge_is_linted_by_pylint_odoo_and_the_oca_checks(self):
        for check in dev.lint_commands()[2:]:
            for addon in ("subscription_lifecycle", "subscription_lifecycle_mass_mailing"):
                self.assertIn(addon, check)

    def test_the_test_database_gets_mass_mailing_so_its_bridge_installs(self):
        self.assertIn("mass_mailing", dev.TEST_INIT)
        self.assertNotIn("subscription_lifecycle_mass_mailing", dev.TEST_INIT, "auto_install must do it")
        manifest = (dev.ROOT / "subscription_lifecycle_mass_mailing" / "__manifest__.py").read_text()
        self.assertIn('"auto_install": True', manifest)

    def test_the_addons_path_starts_with_the_repository_where_the_bridges_are(self):
        # needs Odoo, as the test command does
        self.assertEqual(dev.find_odoo()[1].split(",")[0], str(dev.ROOT))


if __name__ == "__main__":
    unittest.main()


class TestScreenshots(unittest.TestCase):
    """``dev.py screenshots``: nothing is sent, nothing moves while the screens are taken; the README shows them all."""

    def test_the_screenshot_server_runs_no_cron_and_serves_on_loopback_only(self):
        prepare, serve = dev.screenshot_server_commands(["odoo-bin"], "addons", "demo", 8123, exists=True)
        self.assertIn("--max-cron-threads=0", serve)
        self.assertIn("--http-interface=127.0.0.1", serve)
        self.assertIn("--update=subscription_lifecycle", prepare)
        self.assertIn("--stop-after-init", prepare)

    def test_a_missing_demo_database_is_created_as_run_creates_it(self):
        prepare, _serve = dev.screenshot_server_commands(["odoo-bin"], "addons", "demo", 8123, exists=False)
        self.assertIn("--with-demo", prepare)
        self.assertIn(f"--init={','.join((dev.ADDON, *dev.DEMO_ADDONS))}", prepare)

    def test_the_readme_shows_every_screenshot_the_command_takes_and_no_other(self):
        readme = (dev.ROOT / "README.md").read_text(encoding="utf-8")
        shown = set(re.findall(r"docs/screenshots/([\w.]+\.png)", readme))
        self.assertEqual(shown, {shot[0] for shot in screenshots.SHOTS})
