from datetime import UTC, datetime, time

from django import forms

from forecasts.request import ForecastRequest
from forexgpt_site.forms import JobForm
from forexgpt_site.jobs import JobStatus


class ForecastForm(JobForm):
    """The page face of `ForecastRequest`: dates are whole UTC days (start at 00:00, end at 23:59:59)."""

    request_class = ForecastRequest

    artifact = forms.CharField(widget=forms.HiddenInput)
    symbol = forms.CharField(
        help_text="the model's own pair, or another one of the same bar size: its statistics and spread are then "
        "fitted on its own bars of the model's training and validation periods first"
    )
    timeframe = forms.CharField()
    start = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="UTC; blank = from the first bar with context",
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="UTC; blank = to the last stored bar"
    )
    samples = forms.IntegerField(
        initial=ForecastRequest.samples,
        min_value=ForecastRequest.LIMITS["samples"][0],
        max_value=ForecastRequest.LIMITS["samples"][1],
        help_text="paths per bar; with fewer than 20 the 90% band covers less than 90%",
    )
    seed = forms.IntegerField(initial=ForecastRequest.seed, min_value=0)
    in_sample_ok = forms.BooleanField(
        required=False,
        label="Make them anyway",
        help_text="they will be labelled in-sample on every page that uses them",
    )

    in_sample_warning = None  # the service's InSampleRange message: the page asks to confirm

    def request_values(self, cleaned: dict) -> dict:
        start, end = cleaned.get("start"), cleaned.get("end")
        cleaned = {k: v for k, v in cleaned.items() if k != "in_sample_ok"}  # the form's question, not the request's
        return {
            **cleaned,
            "start": datetime.combine(start, time(), UTC) if start else None,
            # the last bar of the end day, not the first of the next (no day after 9999-12-31: its last second)
            "end": datetime.combine(end, time.max.replace(microsecond=0), UTC) if end else None,
        }

    def confirming(self, service):
        """`service` (forecast_set_start) for `start(user, ...)`, making a range that touches the model's
        training or validation part only once confirmed (`in_sample_ok`): until then the service's
        warning is kept in `in_sample_warning` for the page, and nothing is started. (Not an override
        of `start`: that name is this form's start-date field.)"""
        from forecasts.services import InSampleRange

        def start_confirmed(**arguments):
            try:
                return service(**arguments, in_sample_ok=bool(self.cleaned_data.get("in_sample_ok")))
            except InSampleRange as exc:
                self.in_sample_warning = str(exc)
                return None

        return start_confirmed


class _CoverageSelect(forms.Select):
    """Options carry their set's series and range; static/js/forecast_sets.js shows only the sets that
    cover the form's series and range as the user fills them in."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        fs = getattr(value, "instance", None)
        if fs is not None:
            option["attrs"].update(
                {
                    "data-symbol": fs.symbol,
                    "data-timeframe": fs.timeframe,
                    "data-first": f"{fs.first:%Y-%m-%dT%H:%M}",
                    "data-last": f"{fs.last:%Y-%m-%dT%H:%M}",
                    "data-in-sample": {True: "true", False: "false"}.get(fs.in_sample, "unknown"),
                }
            )
        return option


class ForecastSetField(forms.ModelChoiceField):
    """A finished forecast set, listed with its series and range so the user sees what it covers."""

    widget = _CoverageSelect(attrs={"data-forecast-sets": "1"})

    def __init__(self, **kwargs):
        from forecasts.models import ForecastSet

        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "only the sets that cover the series and range above are listed")
        super().__init__(
            queryset=ForecastSet.objects.filter(status=JobStatus.SUCCEEDED).order_by("-created_at"), **kwargs
        )

    def label_from_instance(self, fs):
        return (
            f"#{fs.pk} {fs.artifact_ref}: {fs.symbol} {fs.timeframe} {fs.first:%Y-%m-%d %H:%M} to {fs.last:%Y-%m-%d %H:%M} "
            f"({fs.rows:,} bars) - {'⚠ ' if fs.in_sample else ''}{fs.sample_label}"
        )
