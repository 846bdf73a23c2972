"""The pure modules' tests need no Odoo.

pytest-odoo, when installed, sets up every test session with autouse
fixtures that load a registry (and an HTTP server) from a database: these
tests have none, so the same fixtures are nothing here.
"""

import pytest


@pytest.fixture(scope="session", autouse=True)
def load_registry():
    """No registry: nothing here touches a database."""


@pytest.fixture(scope="session", autouse=True)
def load_http():
    """No HTTP server either."""


@pytest.fixture(scope="module", autouse=True)
def enable_odoo_test_flag():
    """Odoo's test flag means nothing without Odoo."""
