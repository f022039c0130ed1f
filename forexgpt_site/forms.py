"""Form fields every page shares."""

from datetime import UTC

from django import forms

from forexgpt_site.parsing import parse_utc_range


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
        return result.astimezone(UTC) if result is not None else None


class UtcRangeForm(forms.Form):
    """A form with a `start` and an `end` (UtcDateTimeField, declared by the subclass), checked as every
    request's range is (`parse_utc_range`: start after end is its error)."""

    def clean(self):
        cleaned = super().clean()
        try:
            parse_utc_range(cleaned)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return cleaned


class JobForm(forms.Form):
    """A page form that starts a job. `clean()` builds the job's request object (`request_class`) from
    `request_values(cleaned_data)`, the request's ValueError becoming the form's error; `start(user,
    service)` hands it to the service (with the file of `upload_field`, which travels beside the
    request), a refusal from the service (checks that need stored data) becoming the form's error too."""

    request_class = None
    upload_field = None

    def request_values(self, cleaned: dict) -> dict:
        """The request's fields from the cleaned values (the upload left out); forms that shape values
        for people (whole days, separate option fields) override this."""
        return {k: v for k, v in cleaned.items() if k != self.upload_field}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.request_object = self.request_class.from_dict(self.request_values(cleaned))
            except ValueError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return cleaned

    def start(self, user, service):
        """The run `service` started, or None when the form or the service refused (errors on the form)."""
        if not self.is_valid():
            return None
        upload = {"upload": self.cleaned_data.get(self.upload_field)} if self.upload_field else {}
        try:
            return service(user=user, request=self.request_object, **upload)
        except ValueError as exc:
            self.add_error(None, str(exc))
            return None
