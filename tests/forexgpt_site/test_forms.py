from datetime import UTC, datetime

import pytest

from forexgpt_site.forms import UtcDateTimeField


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2023-01-02T03:04", datetime(2023, 1, 2, 3, 4, tzinfo=UTC)),
        ("2023-01-02", datetime(2023, 1, 2, tzinfo=UTC)),
        ("2023-01-02 03:04", datetime(2023, 1, 2, 3, 4, tzinfo=UTC)),
    ],
)
def test_dates_are_iso_and_utc(text, expected):
    assert UtcDateTimeField().clean(text) == expected


def test_a_us_style_date_is_refused_not_guessed():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        UtcDateTimeField().clean("01/02/2023")


def test_the_training_form_uses_a_date_picker(logged_in_client):
    page = logged_in_client.get("/training/").content.decode()
    assert 'type="datetime-local" name="start"' in page


def test_pages_name_their_icon_so_browsers_do_not_ask_for_a_missing_favicon(logged_in_client):
    from django.contrib.staticfiles import finders

    page = logged_in_client.get("/").content.decode()
    assert 'rel="icon"' in page and finders.find("favicon.svg")


def test_an_end_given_as_a_date_alone_includes_that_whole_day_everywhere():
    from datetime import date, datetime

    from forexgpt_site.parsing import parse_utc_range

    whole_day = datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_utc_range({"end": "2024-01-31"})[1] == whole_day
    assert parse_utc_range({"end": date(2024, 1, 31)})[1] == whole_day
    assert parse_utc_range({"end": "2024-01-31T00:00"})[1] == datetime(2024, 1, 31, tzinfo=UTC)  # a time is kept
    assert parse_utc_range({"start": "2024-01-31", "end": "2024-01-31"}) == (
        datetime(2024, 1, 31, tzinfo=UTC),
        whole_day,
    )
