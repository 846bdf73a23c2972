import pytest
from lib.dunning import is_hard_decline, retry_days


def test_eight_retries_over_fourteen_days_end_on_the_fourteenth_day():
    days = retry_days(8, 14, seed=42)
    assert len(days) == 8
    assert days[-1] == 14
    assert days == sorted(set(days)), "one retry a day at most, in order"
    assert days[0] >= 1


def test_the_same_seed_gives_the_same_days_and_others_differ():
    assert retry_days(8, 14, seed=7) == retry_days(8, 14, seed=7)
    assert len({tuple(retry_days(8, 60, seed=seed)) for seed in range(20)}) > 1, "jitter moves the days"


def test_jitter_stays_within_a_quarter_of_the_spacing():
    for seed in range(50):
        for number, day in enumerate(retry_days(8, 60, seed), start=1):
            assert abs(day - 60 * number / 8) <= 60 / 8 / 4 + 1


def test_as_many_retries_as_days_is_one_a_day():
    assert retry_days(5, 5, seed=3) == [1, 2, 3, 4, 5]


def test_more_retries_than_days_is_refused():
    with pytest.raises(ValueError):
        retry_days(9, 8, seed=1)
    with pytest.raises(ValueError):
        retry_days(0, 8, seed=1)


def test_a_cancelled_payment_and_a_stolen_card_are_hard_declines():
    assert is_hard_decline("cancel", "")
    assert is_hard_decline("error", "Your card was reported Stolen")
    assert is_hard_decline("error", "Expired card")


def test_a_demo_error_or_insufficient_funds_is_tried_again():
    assert not is_hard_decline("error", "You selected the following demo payment status: error")
    assert not is_hard_decline("error", "Insufficient funds")
    assert not is_hard_decline("error", None)
