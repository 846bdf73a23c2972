from pathlib import Path

from lib.events import EVENT_CATALOG, EVENT_DOCS, WORKFLOW_EVENT_SELECTION, catalog_table

README = Path(__file__).parents[2] / "README.rst"


def test_every_event_of_the_catalog_says_when_it_is_emitted_and_what_its_payload_holds():
    assert set(EVENT_DOCS) == {name for name, _label, _model in EVENT_CATALOG}
    for when, payload in EVENT_DOCS.values():
        assert when.endswith(".")
        assert all(isinstance(meaning, str) and meaning for meaning in payload.values())


def test_the_readme_shows_the_catalog_as_it_is():
    assert catalog_table() in README.read_text()


def test_a_deleted_customer_starts_no_workflow_but_its_event_is_in_the_catalog():
    assert "customer_deleted" not in dict(WORKFLOW_EVENT_SELECTION)
    assert "customer_deleted" in {name for name, _label, _model in EVENT_CATALOG}
    assert "no_active_service" in dict(WORKFLOW_EVENT_SELECTION)
