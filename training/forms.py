from django import forms

from forexgpt_site.forms import UtcDateTimeField


class TrainingForm(forms.Form):
    name = forms.CharField(required=False, max_length=120)
    symbol = forms.CharField(initial="EURUSD")
    timeframe = forms.CharField(initial="1h")
    start = UtcDateTimeField()
    end = UtcDateTimeField()
    horizon = forms.IntegerField(initial=12, min_value=1)
    patch_len = forms.IntegerField(initial=64, min_value=8)
    epochs = forms.IntegerField(initial=10, min_value=1)
    batch_size = forms.IntegerField(initial=64, min_value=2)
    denoiser = forms.ChoiceField(choices=[("transformer", "transformer"), ("unet", "1-D temporal U-Net")])
    precision = forms.ChoiceField(required=False, choices=[("", "auto"), ("32-true", "fp32"), ("bf16-mixed", "bf16 mixed"), ("16-mixed", "fp16 mixed")])
    compile = forms.ChoiceField(required=False, choices=[("", "auto"), ("on", "on"), ("off", "off")], label="torch.compile")
    num_gpus = forms.IntegerField(required=False, min_value=0, help_text="blank = every detected GPU; 0 = CPU")
    gradient_accumulation = forms.IntegerField(initial=1, min_value=1)
    gradient_checkpointing = forms.BooleanField(required=False)
    fast_dev_run = forms.BooleanField(required=False, help_text="one batch: a smoke test")

    def choices(self) -> dict:
        d = self.cleaned_data
        out = {}
        if d.get("precision"):
            out["precision"] = d["precision"]
        if d.get("compile"):
            out["compile"] = d["compile"] == "on"
        if d.get("num_gpus") is not None:
            out["num_gpus"] = d["num_gpus"]
        if d.get("gradient_accumulation", 1) > 1:
            out["gradient_accumulation"] = d["gradient_accumulation"]
        if d.get("gradient_checkpointing"):
            out["gradient_checkpointing"] = True
        return out
