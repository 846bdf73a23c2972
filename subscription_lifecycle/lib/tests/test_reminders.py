import pytest
from lib.reminders import due_offset, next_offset, parse_ladder

LADDER = (30, 14, 3, 0)


def test_each_rung_is_due_from_its_day_on():
    assert due_offset(31, LADDER, set()) is None
    assert due_offset(30, LADDER, set()) == 30
    assert due_offset(15, LADDER, {30}) is None
    assert due_offset(14, LADDER, {30}) == 14
    assert due_offset(3, LADDER, {30, 14}) == 3
    assert due_offset(0, LADDER, {30, 14, 3}) == 0
    assert due_offset(-1, LADDER, set()) is None, "nothing after expiry: that is the expiry notice"


def test_a_sent_rung_is_never_due_again():
    assert due_offset(30, LADDER, {30}) is None
    assert due_offset(20, LADDER, {30}) is None


def test_after_an_outage_only_the_latest_reached_rung_is_due():
    assert due_offset(10, LADDER, set()) == 14
    assert due_offset(0, LADDER, set()) == 0
    assert due_offset(2, LADDER, {30}) == 3


def test_nothing_is_due_once_a_closer_rung_went_out():
    assert due_offset(2, LADDER, {3}) is None
    assert due_offset(10, LADDER, {3}) is None, "the ladder never climbs back"


def test_the_next_rung_is_the_closest_one_still_to_come():
    assert next_offset(40, LADDER, set()) == 30
    assert next_offset(30, LADDER, {30}) == 14
    assert next_offset(10, LADDER, {14}) == 3, "caught up on 14 today: 3 comes next"
    assert next_offset(3, LADDER, {30, 14, 3}) == 0
    assert next_offset(0, LADDER, {0}) is None, "after the expiry-day rung nothing comes"
    assert next_offset(-5, LADDER, set()) is None
    assert next_offset(10, LADDER, {3}) == 0, "the ladder never climbs back"


def test_the_next_rung_falls_due_on_its_own_day():
    sent = set()
    for days_left in range(45, -3, -1):
        due = due_offset(days_left, LADDER, sent)
        if due is not None:
            assert due == days_left
            sent.add(due)
        upcoming = next_offset(days_left, LADDER, sent)
        assert upcoming is None or upcoming < days_left
    assert sent == set(LADDER)


def test_parse_ladder():
    assert parse_ladder("30,14,3,0") == LADDER
    assert parse_ladder(" 3, 30 ,0,14 ") == LADDER
    assert parse_ladder("7") == (7,)
    for bad in ("", "30,,x", "30,30", "-1", "400", "1.5"):
        with pytest.raises(ValueError):
            parse_ladder(bad)
