from django import forms

from forexgpt_site.forms import JobForm, UtcDateTimeField, UtcRangeForm
from marketdata.engine import FORMATS, import_format
from marketdata.request import ImportRequest

R = ImportRequest
DROP_LABELS = {
    "weekend": "weekend bars",
    "day_spanning": "day-spanning aggregate bars",
    "flat_filler": "flat zero-volume filler bars",
}


class CandleImportForm(JobForm):
    """The page face of `ImportRequest` (its defaults and choices; its checks run on submit), plus the
    uploaded export, which travels beside the request."""

    request_class = ImportRequest
    upload_field = "file"

    file = forms.FileField(help_text="HistData, MetaTrader 4/5, Dukascopy or CSV export")
    symbol = forms.CharField(initial="EURUSD", max_length=16, help_text="EURUSD or EUR/USD")
    timeframe = forms.CharField(initial="1h", max_length=8, help_text="1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1)")
    format = forms.ChoiceField(choices=(), initial=R.format)
    tz = forms.CharField(
        required=False,
        max_length=R.TZ_LENGTH,
        label="Source time zone",
        help_text="IANA name, e.g. Europe/Helsinki; blank = the format's default",
    )
    drop = forms.MultipleChoiceField(
        choices=[(k, DROP_LABELS.get(k, k)) for k in R.DROPPABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Drop anomalies",
    )
    # Not required: a post without the field takes the request's default (refuse).
    on_conflict = forms.ChoiceField(
        choices=list(R.CONFLICT_POLICIES.items()),
        initial=R.on_conflict,
        widget=forms.RadioSelect,
        required=False,
        label="Bars already stored with other values",
        help_text="identical bars are skipped as duplicates whatever you choose",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read now: a format registered later is offered.
        self.fields["format"].choices = [("auto", "auto-detect")] + [
            (f.name, f.label) for f in map(import_format, FORMATS)
        ]


class ImportRetryForm(forms.Form):
    on_conflict = forms.ChoiceField(choices=[(k, v) for k, v in R.CONFLICT_POLICIES.items() if k != "refuse"])


class ChartRangeForm(UtcRangeForm):
    symbol = forms.CharField(required=False)
    timeframe = forms.CharField(required=False)
    start = UtcDateTimeField(help_text="UTC")
    end = UtcDateTimeField(help_text="UTC")


class CandleDeleteForm(UtcRangeForm):
    symbol = forms.CharField()
    timeframe = forms.CharField()
    start = UtcDateTimeField(help_text="UTC; blank = from the first bar")
    end = UtcDateTimeField(help_text="UTC; blank = to the last bar")
