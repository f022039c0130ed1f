from django import forms

from forexgpt_site.forms import UtcDateTimeField
from marketdata.engine import CONFLICT_POLICIES, DEFAULT_CONFLICT_POLICY, FORMATS

DROP_CHOICES = [
    ("weekend", "weekend bars"),
    ("day_spanning", "day-spanning aggregate bars"),
    ("flat_filler", "flat zero-volume filler bars"),
]
CONFLICT_CHOICES = list(CONFLICT_POLICIES.items())


class CandleImportForm(forms.Form):
    file = forms.FileField(help_text="HistData, MetaTrader 4/5, Dukascopy or CSV export")
    symbol = forms.CharField(initial="EURUSD", max_length=16, help_text="EURUSD or EUR/USD")
    timeframe = forms.CharField(initial="1h", max_length=8, help_text="1m, 5m, 15m, 1h, 4h, 1d (or M1, H1, D1)")
    format = forms.ChoiceField(choices=[("auto", "auto-detect"), *[(f, f) for f in FORMATS]], initial="auto")
    tz = forms.CharField(required=False, max_length=64, label="Source time zone",
                         help_text="IANA name, e.g. Europe/Helsinki; blank = the format's default")
    drop = forms.MultipleChoiceField(choices=DROP_CHOICES, required=False, widget=forms.CheckboxSelectMultiple,
                                     label="Drop anomalies")
    on_conflict = forms.ChoiceField(choices=CONFLICT_CHOICES, initial=DEFAULT_CONFLICT_POLICY, widget=forms.RadioSelect,
                                    required=False, label="Bars already stored with other values",
                                    help_text="identical bars are skipped as duplicates whatever you choose")

    def clean_on_conflict(self) -> str:
        return self.cleaned_data["on_conflict"] or DEFAULT_CONFLICT_POLICY  # a post without the field refuses


class ImportRetryForm(forms.Form):
    on_conflict = forms.ChoiceField(choices=[(k, v) for k, v in CONFLICT_CHOICES if k != "refuse"])


class ChartRangeForm(forms.Form):
    symbol = forms.CharField(required=False)
    timeframe = forms.CharField(required=False)
    start = UtcDateTimeField(help_text="UTC")
    end = UtcDateTimeField(help_text="UTC")


class CandleDeleteForm(forms.Form):
    symbol = forms.CharField()
    timeframe = forms.CharField()
    start = UtcDateTimeField(help_text="UTC; blank = from the first bar")
    end = UtcDateTimeField(help_text="UTC; blank = to the last bar")
