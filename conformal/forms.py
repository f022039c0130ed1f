from django import forms

from conformal.engine import method_choices
from conformal.request import CalibrationRequest
from forecasts.forms import ForecastSetField
from forexgpt_site.forms import JobForm


class CalibrationForm(JobForm):
    """The page face of `CalibrationRequest` (its defaults and choices; its checks run on submit),
    plus the uploaded forecasts CSV, which travels beside the request."""

    request_class = CalibrationRequest
    upload_field = "forecasts"

    forecast_set = ForecastSetField(help_text="stored forecasts: no upload, the realized returns come from the candles")
    forecasts = forms.FileField(
        required=False,
        help_text="or a CSV: timestamp, y_true, y_pred[, q_lo, q_hi, scale] (or forecast columns + y_true)",
    )
    method = forms.ChoiceField(choices=method_choices, initial=CalibrationRequest.method)  # read at each use
    alpha = forms.FloatField(
        initial=CalibrationRequest.alpha, min_value=0.0001, max_value=0.9999, help_text="0.1 = 90% intervals"
    )
    name = forms.CharField(required=False, max_length=CalibrationRequest.NAME_LENGTH)
    artifact = forms.CharField(required=False, help_text="model version REF (optional), e.g. eurusd-1h-h12:3")
    cal_size = forms.IntegerField(
        required=False, min_value=CalibrationRequest.MIN_ROWS, help_text="calibration rows (default: first third)"
    )
    window = forms.IntegerField(required=False, min_value=CalibrationRequest.MIN_ROWS, help_text="window / aci")
    gamma = forms.FloatField(required=False, help_text="aci step size (default 0.005)")
    lr = forms.FloatField(required=False, help_text="pid step (default 0.05)")
    score = forms.ChoiceField(
        choices=[("", "absolute (default)")] + [(s, s) for s in CalibrationRequest.SCORES if s != "absolute"],
        required=False,
        help_text="window / aci / pid: the nonconformity score",
    )
