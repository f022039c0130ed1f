from django import forms

from forexgpt_site.forms import JobForm, UtcDateTimeField
from forexgpt_site.parsing import request_options
from training.request import TrainingRequest

R = TrainingRequest
DENOISER_LABELS = {"transformer": "transformer", "unet": "1-D temporal U-Net"}
PRECISION_LABELS = {"32-true": "fp32", "16-mixed": "fp16 mixed", "bf16-mixed": "bf16 mixed"}
COMPILE_CHOICES = {"": None, "on": True, "off": False}


def _limits(name: str) -> dict:
    low, high = R.LIMITS[name]
    return {"min_value": low, "max_value": high}


class TrainingForm(JobForm):
    """The page face of `TrainingRequest`: its defaults, choices and limits; the optimization options
    are fields of their own here and become the request's `choices`."""

    request_class = TrainingRequest

    name = forms.CharField(required=False, max_length=120)
    symbol = forms.CharField(initial="EURUSD")
    timeframe = forms.CharField(initial="1h")
    start = UtcDateTimeField()
    end = UtcDateTimeField()
    horizon = forms.IntegerField(initial=R.horizon, **_limits("horizon"))
    patch_len = forms.IntegerField(initial=R.patch_len, **_limits("patch_len"))
    epochs = forms.IntegerField(initial=R.epochs, **_limits("epochs"))
    batch_size = forms.IntegerField(initial=R.batch_size, **_limits("batch_size"))
    denoiser = forms.ChoiceField(choices=[(d, DENOISER_LABELS.get(d, d)) for d in R.DENOISERS], initial=R.denoiser)
    members = forms.IntegerField(
        required=False,
        initial=R.members,
        **_limits("members"),
        label="Ensemble members",
        help_text=f"networks trained side by side and sampled as one (training time x members; blank = {R.members})",
    )
    precision = forms.ChoiceField(
        required=False, choices=[("", "auto")] + [(p, PRECISION_LABELS.get(p, p)) for p in R.PRECISIONS]
    )
    compile = forms.ChoiceField(
        required=False, choices=[("", "auto"), ("on", "on"), ("off", "off")], label="torch.compile"
    )
    num_gpus = forms.IntegerField(
        required=False, min_value=R.CHOICE_LOWS["num_gpus"], help_text="blank = every detected GPU; 0 = CPU"
    )
    gradient_accumulation = forms.IntegerField(
        initial=R.CHOICE_DEFAULTS["gradient_accumulation"], min_value=R.CHOICE_LOWS["gradient_accumulation"]
    )
    gradient_checkpointing = forms.BooleanField(required=False)
    fast_dev_run = forms.BooleanField(required=False, help_text="one batch: a smoke test, registered as NAME-smoke")

    def request_values(self, d: dict) -> dict:
        choices = R.choices_from(
            {
                "precision": d.get("precision") or None,
                "compile": COMPILE_CHOICES[d.get("compile") or ""],
                "num_gpus": d.get("num_gpus"),
                "gradient_accumulation": d.get("gradient_accumulation"),
                "gradient_checkpointing": d.get("gradient_checkpointing"),
            }
        )
        return {**request_options(R, d), "choices": choices}
