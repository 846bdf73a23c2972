from lib.sampling import bucket, compare_variants, in_sample, pilot_member, variant


def test_a_customers_place_is_the_same_every_time():
    assert bucket("pilot:7", 42) == bucket("pilot:7", 42)
    assert [variant(3, partner, 50) for partner in range(50)] == [variant(3, partner, 50) for partner in range(50)]


def test_a_pilot_of_ten_percent_holds_about_a_tenth_of_the_customers():
    members = sum(pilot_member(7, partner, 10) for partner in range(1, 20001))
    assert 1800 < members < 2200


def test_a_larger_pilot_keeps_the_customers_of_the_smaller_one():
    small = {partner for partner in range(1, 5001) if pilot_member(7, partner, 10)}
    large = {partner for partner in range(1, 5001) if pilot_member(7, partner, 25)}
    assert small < large


def test_no_pilot_and_a_full_pilot():
    assert not any(in_sample("pilot:7", partner, 0) for partner in range(1000))
    assert all(in_sample("pilot:7", partner, 100) for partner in range(1000))


def test_two_workflows_draw_different_samples():
    first = {partner for partner in range(1, 5001) if pilot_member(7, partner, 10)}
    second = {partner for partner in range(1, 5001) if pilot_member(8, partner, 10)}
    assert first != second


def test_a_fifty_fifty_split_gives_about_half_to_each_variant():
    variants = [variant(3, partner, 50) for partner in range(1, 20001)]
    assert 9700 < variants.count("b") < 10300
    assert set(variants) == {"a", "b"}
    assert all(variant(3, partner, 0) == "a" for partner in range(1000))


def test_no_winner_is_named_below_a_hundred_sends_per_variant():
    assert compare_variants(12, 6, 12, 1) == (50.0, 100 / 12, None)
    assert compare_variants(150, 30, 99, 40)[2] is None
    assert compare_variants(0, 0, 0, 0) == (None, None, None)


def test_the_variant_with_the_better_renewal_rate_leads_once_both_have_enough_sends():
    assert compare_variants(100, 20, 120, 30) == (20.0, 25.0, "b")
    assert compare_variants(200, 50, 100, 10)[2] == "a"
    assert compare_variants(100, 10, 100, 10)[2] == "tie"
