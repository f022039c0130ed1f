"""Calibration methods are one registry: each calibrator rebuilds itself from its stored state, and a
method registered here (and nowhere else) is offered by the form, the API and the command. No
database except where the form needs one."""

import json

import numpy as np
import pandas as pd
import pytest
from django.core.management.base import CommandError

from conformal.engine import (
    METHODS,
    CalibrationMethod,
    calibrate_series,
    calibration_method,
    calibration_methods,
    calibrator_from_state,
    forecast_columns,
    register_method,
    unregister_method,
    with_bounds,
)


class MedianBand:
    """A toy calibrator: y_pred +- `factor` times the calibration residuals' median (no guarantee)."""

    kind = "median_band"
    online = False

    def __init__(self, alpha: float = 0.1, factor: float = 2.0):
        self.alpha = alpha
        self.factor = factor

    def fit(self, y_true, y_pred, **_):
        self.half_width_ = self.factor * float(np.median(np.abs(np.asarray(y_true, float) - np.asarray(y_pred, float))))
        return self

    def predict(self, y_pred, **_):
        y_pred = np.asarray(y_pred, float)
        return y_pred - self.half_width_, y_pred + self.half_width_

    def get_state(self) -> dict:
        return {"method": self.kind, "alpha": self.alpha, "factor": self.factor, "half_width": self.half_width_}

    @classmethod
    def from_state(cls, state: dict) -> "MedianBand":
        cal = cls(state["alpha"], factor=state["factor"])
        cal.half_width_ = float(state["half_width"])
        return cal


@pytest.fixture
def median_band():
    method = register_method(
        CalibrationMethod("median_band_toy", MedianBand, fixed={"factor": 3.0}, label="median band (toy)")
    )
    yield method
    unregister_method(method.name)


@pytest.fixture
def columns(forecasts_csv):
    return forecast_columns(pd.read_csv(forecasts_csv), 0.1)


def _stored(state: dict) -> dict:
    return json.loads(json.dumps(state))  # as a JSONField keeps it


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_rebuilt_from_its_stored_state_predicts_and_learns_as_the_fitted_one(columns, name):
    method = calibration_method(name)
    fit, rest, new = slice(0, 300), slice(300, 600), slice(600, 900)
    extra = {k: columns[k] for k in ("scale", "q_lo", "q_hi")}
    part = lambda where: {k: v[where] for k, v in extra.items()}  # noqa: E731
    fitted = method.make(0.1, window=200, gamma=0.01, lr=0.1).fit(
        columns["y_true"][fit], columns["y_pred"][fit], **part(fit)
    )
    if method.online:
        fitted.predict_online(columns["y_true"][rest], columns["y_pred"][rest], **part(rest))
    state = _stored(fitted.get_state())
    rebuilt = calibrator_from_state(state)
    assert type(rebuilt) is method.calibrator and _stored(rebuilt.get_state()) == state
    for a, b in zip(
        rebuilt.predict(columns["y_pred"][new], **part(new)), fitted.predict(columns["y_pred"][new], **part(new))
    ):
        np.testing.assert_array_equal(a, b)
    if method.online:  # it goes on learning from the same point
        ahead = [
            cal.predict_online(columns["y_true"][new], columns["y_pred"][new], **part(new)) for cal in (rebuilt, fitted)
        ]
        np.testing.assert_array_equal(np.asarray(ahead[0]), np.asarray(ahead[1]))
        assert rebuilt.get_state() == fitted.get_state()


def test_a_state_stored_before_the_registry_still_rebuilds():
    state = {
        "method": "split",
        "alpha": 0.1,
        "score": "normalized",
        "q": 1.5,
    }  # as calibrations of the normalized method hold it
    lo, hi = calibrator_from_state(state).predict(np.array([0.0, 1.0]), scale=np.array([2.0, 4.0]))
    np.testing.assert_array_equal(lo, [-3.0, -5.0])
    np.testing.assert_array_equal(hi, [3.0, 7.0])


def test_unknown_methods_and_states_are_named():
    with pytest.raises(
        ValueError, match="unknown method 'bayes'; choose one of split, asymmetric, normalized, cqr, window, aci, pid"
    ):
        calibration_method("bayes")
    with pytest.raises(ValueError, match="cannot rebuild a calibrator from method 'bayes'"):
        calibrator_from_state({"method": "bayes", "alpha": 0.1})
    with pytest.raises(ValueError, match="a calibration method named 'split' is already registered"):
        register_method(CalibrationMethod("split", MedianBand))
    with pytest.raises(ValueError, match="MedianBand needs `from_state`"):
        CalibrationMethod("x", type("MedianBand", (), {"kind": "x", "online": False}))


def test_a_registered_method_calibrates_and_its_stored_state_gives_bounds(median_band, columns):
    result = calibrate_series(columns, method="median_band_toy", alpha=0.1, cal_size=300)
    head = slice(0, 300)
    half_width = 3.0 * np.median(np.abs(columns["y_true"][head] - columns["y_pred"][head]))
    assert result.state == {"method": "median_band", "alpha": 0.1, "factor": 3.0, "half_width": half_width}
    np.testing.assert_allclose(result.hi - result.y_pred, half_width)
    bounded = with_bounds(_stored(result.state), 0.1, pd.DataFrame({"pred_return": [0.0, 0.001]}))
    np.testing.assert_allclose(bounded["hi"] - bounded["pred_return"], half_width)
    assert median_band in calibration_methods() and "median_band_toy" in METHODS


@pytest.mark.django_db
def test_the_form_the_api_and_the_command_offer_a_registered_method(median_band):
    from conformal.forms import CalibrationForm
    from conformal.management.commands.calibrate import Command
    from conformal.request import CalibrationRequest
    from conformal.serializers import CalibrationCreateSerializer

    assert ("median_band_toy", "median band (toy)") in list(CalibrationForm().fields["method"].choices)
    assert "median_band_toy" in CalibrationCreateSerializer().fields["method"].choices
    options = (
        Command()
        .create_parser("manage.py", "calibrate")
        .parse_args(["--forecasts", "f.csv", "--method", "median_band_toy"])
    )
    assert CalibrationRequest.from_dict({"method": options.method}).method == "median_band_toy"
    unregister_method("median_band_toy")
    try:
        assert "median_band_toy" not in [value for value, _ in CalibrationForm().fields["method"].choices]
        with pytest.raises(CommandError, match="invalid choice: 'median_band_toy'"):
            Command().create_parser("manage.py", "calibrate").parse_args(
                ["--forecasts", "f.csv", "--method", "median_band_toy"]
            )
    finally:
        register_method(median_band)
