"""The training API in one import, as the README uses it::

    from jaxnets.train import create_train_state, train_step, eval_step, fit

Each name lives in the module of its concept: the state (``jaxnets.state``), the jitted steps
(``jaxnets.steps``), evaluation over a data set (``jaxnets.evaluation``), the epoch loop
(``jaxnets.loop``), what it records (``jaxnets.record``), its callbacks (``jaxnets.callbacks``),
optimisation without a model (``jaxnets.optimize``) and the metrics (``jaxnets.metrics``).
"""

from jaxnets.callbacks import early_stopping, epoch_table
from jaxnets.evaluation import evaluate
from jaxnets.loop import fit, seed_keys, seeded_state, train_model
from jaxnets.metrics import classification_metrics, logit_binary_metrics, no_metrics
from jaxnets.optimize import minimize
from jaxnets.record import Divergence, FitResult
from jaxnets.state import Batch, TrainState, create_train_state, create_train_states
from jaxnets.steps import (
    epoch_batches,
    eval_step,
    loop_epoch,
    predict,
    train_epoch,
    train_full_batch,
    train_step,
)

__all__ = [
    "Batch",
    "Divergence",
    "FitResult",
    "TrainState",
    "classification_metrics",
    "create_train_state",
    "create_train_states",
    "early_stopping",
    "epoch_batches",
    "epoch_table",
    "eval_step",
    "evaluate",
    "fit",
    "logit_binary_metrics",
    "loop_epoch",
    "minimize",
    "no_metrics",
    "predict",
    "seed_keys",
    "seeded_state",
    "train_epoch",
    "train_full_batch",
    "train_model",
    "train_step",
]
