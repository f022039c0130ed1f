import pytest

from forexgpt_site.templatetags.forexgpt import kvline, num


@pytest.mark.parametrize(
    "value, shown",
    [
        (149546.25826512638, "149,546"),
        (0.0015645552788670276, "0.001565"),
        (1.5, "1.5"),
        (2.0, "2"),
        (12345, "12,345"),
        (-0.25, "-0.25"),
        (4.53512, "4.535"),
        (0.0, "0"),
        (True, "True"),
        ("x", "x"),
    ],
)
def test_numbers_are_shown_for_people(value, shown):
    assert num(value) == shown


def test_parameters_are_shown_as_names_and_values_not_python_dicts():
    assert kvline({"stop_loss_pct": 0.005, "max_hold_bars": 24}) == "stop_loss_pct 0.005 · max_hold_bars 24"
