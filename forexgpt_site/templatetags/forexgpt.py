from django import template

from forexgpt_site.parsing import parse_utc

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`{{ stats|get_item:"Return [%]" }}`: dict lookups for keys that are not identifiers."""
    return mapping.get(key) if hasattr(mapping, "get") else None


def _number(value) -> str:
    """A number for people: thousands separators, about four significant digits, integers whole."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


@register.filter
def num(value):
    """`{{ 149546.25826512638|num }}` -> 149,546; `{{ 0.0015645552|num }}` -> 0.001565; `{{ 1.5|num }}` -> 1.5."""
    return _number(value)


@register.inclusion_tag("_kv.html")
def kv(mapping, empty="-"):
    """A small two-column table of a dict (parameters, costs, constraints), numbers formatted."""
    items = [
        (
            k,
            _number(v)
            if not isinstance(v, (list, dict))
            else ", ".join(map(_number, v))
            if isinstance(v, list)
            else str(v),
        )
        for k, v in (mapping or {}).items()
    ]
    return {"items": items, "empty": empty}


@register.filter
def kvline(mapping):
    """`{"stop_loss_pct": 0.005, "max_hold_bars": 24}` -> "stop_loss_pct 0.005 · max_hold_bars 24"."""
    return " · ".join(f"{k} {_number(v)}" for k, v in (mapping or {}).items())


@register.filter
def pct(share):
    """`{{ 0.25|pct }}` -> 25%: a share as a whole percentage."""
    return "-" if share is None else f"{100 * float(share):.0f}%"


@register.filter
def utc(value) -> str:
    """`{{ "2014-06-04T12:00:00Z"|utc }}` -> 2014-06-04 12:00: an ISO UTC time as the pages print times."""
    try:
        when = parse_utc(value)
    except ValueError:
        return str(value)
    return "-" if when is None else f"{when:%Y-%m-%d %H:%M}"
