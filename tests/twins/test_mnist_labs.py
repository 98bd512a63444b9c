"""Step for step, the MNIST labs B1-B2 (softmax regression, SGD and Adam), B7-B9 (the 784-256-256-10
MLP, Adam) and B10 (784-512x4-10 with dropout 0.3, Adam) in jaxnets (``train_step``, the
experiments' models and optimizers) and in the notes' own PyTorch code (``twins/``): both start
from the same parameters (the twin's, converted) and take the same 120 batches of 100 in the same
order (a fixed permutation of the training set, drawn once); every step's loss and the parameters
after the 120 steps agree within 1e-4. B10 trains with dropout on, both sides with the same masks:
jaxnets draws them (the step's key, given to ``train_step``), and the twin's ``Dropout`` module
applies them in place of its own draw (a forward hook).

B1-B2 run in float32, as the labs do. The MLP labs (B7-B10) run in float64 on both sides (where
they agree to ~1e-13): in float32 they agree for the first steps and then part (parameters 1e-2
to 3e-1 apart after 120 steps), because the two libraries' matrix products round differently and
Adam's step, g / (√v + 1e-8), turns a rounding-level difference in a gradient near 0 into one of
up to the learning rate, which later steps amplify. That is float32, not the port: the twin against
a copy of itself whose hidden units and batch rows are reordered (the same function, other float32
sums) parts as much (B8: parameters 0.25 apart after 120 steps, as jaxnets' are)."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import numpy as np
import pytest

from tests.conftest import needs_mnist
from tests.helpers import relative, tree_apart, x64

torch = pytest.importorskip("torch", reason="the twins need PyTorch: pip install -e '.[twin]'")

from experiments.dropout import DropoutNet  # noqa: E402
from experiments.mnist_softmax import SoftmaxRegression  # noqa: E402
from experiments.weight_init import INITS, MNISTNet  # noqa: E402
from jaxnets import losses, optim  # noqa: E402
from jaxnets.train import create_train_state, train_step  # noqa: E402
from twins import convert, dropout, mnist_softmax, weight_init  # noqa: E402
from twins.data import image_datasets  # noqa: E402

STEPS = 120
BATCH = 100
TOL = 1e-4
FLOAT64 = {"B7", "B8", "B9", "B10"}
# The jaxnets model and optimizer of each lab, as the experiments build them.
LABS = {
    "B1": (SoftmaxRegression(), optim.optimizer("sgd", 0.1)),
    "B2": (SoftmaxRegression(), optim.optimizer("adam", 0.001)),
    **{
        name.split()[0]: (MNISTNet((256, 256), init), optim.optimizer("adam", 0.001))
        for name, init in INITS.items()
    },
    "B10": (DropoutNet((512, 512, 512, 512), dropout.drop_prob), optim.optimizer("adam", 0.001)),
}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """PyTorch on one thread: these small products are latency-bound, and PyTorch's OpenMP threads
    spinning beside XLA's (or other processes') slow each step many times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.cache
def _train_tensors():
    train, _ = image_datasets("mnist")
    return train.tensors


def _batches():
    """The same 120 batches for both sides: images (100, 1, 28, 28) in [0, 1] (``ToTensor``'s) and
    int64 labels, in the order of a permutation drawn once."""
    x, y = _train_tensors()
    order = np.random.default_rng(0).permutation(len(x))[: STEPS * BATCH].reshape(STEPS, BATCH)
    for idx in torch.from_numpy(order):
        yield x[idx], y[idx]


def _twin(lab: str, dtype: torch.dtype):
    """The twin's model (in ``dtype``) and optimizer for ``lab``, as its script builds them."""
    if lab in ("B1", "B2"):
        model = mnist_softmax.softmax_model().to(dtype)
        return model, mnist_softmax.OPTIMIZERS[lab](model.parameters())
    model = (weight_init.mnist_nn(lab) if lab in weight_init.INITS else dropout.dropout_nn()).to(dtype)
    return model, torch.optim.Adam(model.parameters(), lr=0.001)


def _dropout_masks(model: nn.Module):
    """The masks jaxnets' dropout layers draw with a step's key: ``(params, x, key) → [mask of
    Dropout_0, …]``, 1 where a unit is kept. (A unit whose input is 0 reads as dropped, which
    changes nothing: its output is 0 either way.)"""

    @jax.jit
    def masks(params, x, key):
        _, state = model.apply(
            {"params": params},
            x,
            train=True,
            rngs={"dropout": key},
            capture_intermediates=lambda module, _: isinstance(module, nn.Dropout),
        )
        found = state["intermediates"]
        return [found[f"Dropout_{i}"]["__call__"][0] != 0 for i in range(len(found))]

    return masks


@needs_mnist
@pytest.mark.parametrize("lab", list(LABS))
def test_mnist_lab_step_for_step(lab):
    with x64(lab in FLOAT64):
        steps, losses_apart, params_apart = _step_for_step(
            lab, torch.float64 if lab in FLOAT64 else torch.float32
        )
    print(f"{lab}: {steps} steps, losses {losses_apart:.1e} apart, parameters {params_apart:.1e} apart")
    assert steps >= 100 and losses_apart <= TOL, f"{lab}, {steps} steps: losses {losses_apart:.1e} apart"
    assert params_apart <= TOL, f"{lab}, after {steps} steps: parameters {params_apart:.1e} apart"


def _step_for_step(lab: str, dtype: torch.dtype) -> tuple[int, float, float]:
    """Both sides through the same batches: (steps, the largest relative difference of a step's
    loss, that of the parameters after the last step)."""
    torch.manual_seed(0)
    twin_model, twin_opt = _twin(lab, dtype)
    layers = [m for m in twin_model.modules() if isinstance(m, torch.nn.Linear)]
    model, tx = LABS[lab]
    x0 = _train_tensors()[0][:1, 0].to(dtype).numpy()
    variables = {"params": convert.linears(layers)}  # (names and shapes checked against the model's)
    state = create_train_state(
        model, tx, x0, jax.random.key(0), loss_fn=losses.cross_entropy, variables=variables
    )

    pending: list[torch.Tensor] = []  # B10: the masks of the step being taken, in layer order
    if lab == "B10":
        masks_of = _dropout_masks(model)
        drop = next(m for m in twin_model if isinstance(m, torch.nn.Dropout))  # one module, used 4 times
        drop.register_forward_hook(lambda m, inputs, _: inputs[0] * (pending.pop(0) / (1 - m.p)))
        twin_model.train()
    criterion = torch.nn.CrossEntropyLoss()
    worst, steps = 0.0, 0
    for xb, yb in _batches():
        xb = xb.to(dtype)
        batch = (xb[:, 0].numpy(), yb.numpy().astype(np.int32))
        key = jax.random.fold_in(jax.random.key(1), steps)
        if lab == "B10":
            pending[:] = [
                torch.from_numpy(np.array(m)).to(dtype) for m in masks_of(state.params, batch[0], key)
            ]
        twin_loss = mnist_softmax.train_step(twin_model, criterion, twin_opt, xb, yb).item()
        state, metrics = train_step(state, batch, key)
        assert not pending, "every mask applied once"
        worst = max(worst, relative(float(metrics["loss"]), twin_loss))
        steps += 1
    return steps, worst, tree_apart(state.params, convert.linears(layers))
