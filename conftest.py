"""pytest set-up shared by the two suites (see pytest.ini)."""

import threading

import pytest


def pytest_collect_directory(path, parent):
    """Without an Odoo database (the tests of lib/), collect the addon's packages as plain folders.

    pytest imports a package's ``__init__.py`` to set it up, and the addon's
    imports Odoo; the tests of lib/ import lib alone. With pytest-odoo's
    ``--odoo-database`` the addon is loaded by Odoo, and pytest's own
    collection applies.
    """
    if (path / "__init__.py").is_file() and not parent.config.getoption("odoo_database", None):
        return pytest.Dir.from_parent(parent, path=path)
    return None


@pytest.fixture(scope="session", autouse=True)
def odoo_main_thread_database(request):
    """The main thread knows its database, as under Odoo's own runner (``preload_registries``).

    Odoo code run outside a request reads it there, e.g. ``ir.http.routing_map()``.
    """
    database = request.config.getoption("odoo_database", None)
    if database:
        threading.current_thread().dbname = database
