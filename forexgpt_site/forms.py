"""Form fields every page shares."""

from datetime import timezone

from django import forms


class UtcDateTimeField(forms.DateTimeField):
    """A date-time picker read as UTC, ISO formats only: "01/01/2023" is refused, never guessed as US."""

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "UTC")
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
        super().__init__(**kwargs)

    def to_python(self, value):
        result = super().to_python(value)
        return result.astimezone(timezone.utc) if result is not None else None
