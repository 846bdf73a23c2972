import pytest
from lib.phone import e164


@pytest.mark.parametrize(
    ("written", "country", "expected"),
    [
        # Germany: a mobile, local and international forms
        ("0151 23456789", "DE", "+4915123456789"),
        ("+49 151 23456789", "DE", "+4915123456789"),
        ("0049 151 2345 6789", "FR", "+4915123456789"),
        # Russia: the trunk prefix 8 of local numbers
        ("8 (912) 345-67-89", "RU", "+79123456789"),
        ("+7 912 345 67 89", "RU", "+79123456789"),
        # United States
        ("(201) 555-0123", "US", "+12015550123"),
        ("+1 201-555-0123", "DE", "+12015550123"),
        # France
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+33 6 12 34 56 78", "ES", "+33612345678"),
        # Spain: no trunk prefix
        ("612 34 56 78", "ES", "+34612345678"),
        ("+34 612 345 678", "ES", "+34612345678"),
    ],
)
def test_local_and_international_forms_give_one_e164_number(written, country, expected):
    assert e164(written, country) == expected


def test_the_customer_country_counts_before_the_company_country():
    assert e164("06 12 34 56 78", "fr", "DE") == "+33612345678"
    assert e164("0151 23456789", None, "DE") == "+4915123456789"
    assert e164("0151 23456789", "", False, "de") == "+4915123456789"


@pytest.mark.parametrize(
    ("written", "country"),
    [
        ("", "DE"),
        (None, "DE"),
        ("not a number", "DE"),
        ("0151 234", "DE"),  # too short
        ("06 12 34", "FR"),
        ("+7 000 000 00 00", "RU"),  # no such Russian range
        ("(201) 555-0123", None),  # a local number and no country to read it in
        ("+999 123 456 789", "ES"),  # no such country prefix
        ("123", "US"),
    ],
)
def test_invalid_or_missing_numbers_are_refused(written, country):
    assert e164(written, country) is None
