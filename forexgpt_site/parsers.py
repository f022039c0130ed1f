"""The API's JSON parser: JSON whose strings are text."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _lone_surrogate(value) -> str | None:
    """The first string (key or value) in parsed JSON that holds a lone UTF-16 surrogate (`"\\ud800"`):
    JSON allows the escape, but no text encoding can store or render it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


class TextJSONParser(JSONParser):
    """DRF's JSON parser, refusing (400) a body with a lone surrogate escape, which would otherwise
    fail later - rendering an error that quotes it, or storing it - as a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        bad = _lone_surrogate(data)
        if bad is not None:
            raise ParseError(
                f"JSON parse error - a string holds a lone surrogate ({bad.encode('utf-8', 'backslashreplace').decode()[:40]}), "
                "which is not text"
            )
        return data
