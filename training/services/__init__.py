"""Training writes, one module per concern: `runs` (start, the task that watches the child), `child`
(the training child process), `registration` (the trained version in the registry). Import from here.
A run's parameters are a `training.request.TrainingRequest`."""

from .child import EVAL_WINDOWS, training_child_main
from .registration import register_model
from .runs import checkpoint_dir, training_run_start, training_run_work

__all__ = [
    "EVAL_WINDOWS",
    "checkpoint_dir",
    "register_model",
    "training_child_main",
    "training_run_start",
    "training_run_work",
]
