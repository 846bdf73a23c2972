import pytest
from lib.overdue import DEFAULT_THRESHOLDS, parse_thresholds


def test_thresholds_are_read_smallest_first_whatever_the_spacing():
    assert parse_thresholds("30, 1,7") == (1, 7, 30)
    assert parse_thresholds(",".join(map(str, DEFAULT_THRESHOLDS))) == DEFAULT_THRESHOLDS


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no number of days"),
        ("1,7,7", "twice"),
        ("0,7", "'0' is not a number of days from 1 to 3650"),
        ("1,-7", "'-7' is not"),
        ("1,seven", "'seven' is not"),
        ("1.5", "'1.5' is not"),
        ("3651", "'3651' is not"),
    ],
)
def test_bad_thresholds_are_refused_saying_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_thresholds(text)
