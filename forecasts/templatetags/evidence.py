"""Filters for the in-sample / out-of-sample evidence on the forecast, calibration and registry pages."""

from django import template

from forexgpt_site.templatetags.forexgpt import utc
from training.engine.periods import IN_SAMPLE_PARTS, PLACE_NAMES, PLACES, in_sample_of, sample_label_of

register = template.Library()


register.filter("utc", utc)  # the pages' one way to print a stored UTC time


@register.filter
def overlap_rows(overlap) -> list[dict]:
    """The places of an `overlap` ({before, train, val, test, between, after}: counts) that hold any
    forecast, in time order: `place`, `name`, `count`, `in_sample`."""
    return [
        {"place": place, "name": PLACE_NAMES[place], "count": overlap[place], "in_sample": place in IN_SAMPLE_PARTS}
        for place in PLACES
        if (overlap or {}).get(place)
    ]


@register.filter
def total(overlap) -> int:
    """All the forecasts an `overlap` counts."""
    return sum((overlap or {}).values())


@register.filter
def sample_label(overlap) -> str:
    """`{{ run.ranges.evaluation.overlap|sample_label }}` -> "in-sample (training)", ... or "periods unknown"."""
    return sample_label_of(overlap)


@register.filter
def in_sample(overlap) -> bool | None:
    return in_sample_of(overlap)


_SHORT = {
    "before": "before the model's data",
    "train": "training",
    "val": "validation",
    "test": "test",
    "between": "between parts",
    "after": "after the model's data",
}


@register.filter
def overlap_line(overlap) -> str:
    """`{{ overlap|overlap_line }}` -> "training 54 · validation 96 · test 84 · between parts 2": the places that hold any."""
    return " · ".join(f"{_SHORT[place]} {overlap[place]:,}" for place in PLACES if (overlap or {}).get(place))
