"""Step for step, the batch-norm homework (B11, B12) and the study group's MNIST / Fashion-MNIST
notebook (D2-D3) in jaxnets and in the notes' own PyTorch code (``twins/``): both sides start from
the same parameters and BatchNorm statistics (the twin's, converted), take the same MNIST batches in
the same order (a seeded ``DataLoader``, shuffled) through the public jitted ``train_step``, and
every step's loss, the parameters and the BatchNorm running mean agree within 1e-4 (relative) after
120 steps (B11, B12) or two epochs of 53 steps with the last partial batch of each (D2-D3).

Dropout (p = 0.3 in B11-B12) stays on, with the same masks on both sides: before each step the
masks our ``train_step`` will draw (its key ``fold_in(state.key, state.step)``) are read from the
Dropout layers' outputs, and the twin's ``nn.Dropout`` layers are swapped for ones that apply them
(inverted dropout, × mask / 0.7, as ``nn.Dropout`` does).

Both sides compute in float64 (``.double()``, ``jax.enable_x64``). In float32 the losses drift
apart to ~1e-5 (B11) or 2e-4 (D3) over these steps and the parameters further: the two libraries
round differently (~1e-7), which flips the odd ReLU whose input is within rounding of 0 or, in front
of a BatchNorm, leaves the Linear bias a gradient of pure rounding noise (~1e-10; exactly 0 in exact
arithmetic), and Adam, which divides each gradient by its own running size, turns such noise into
steps of the learning rate's size: after ~100 steps some weights of nearly dead units differ by 1e-3
to 4e-2 (relative to their layer's largest) and the pre-BN biases wander apart entirely. In float64
the noise sits below Adam's ε and everything agrees to 1e-7 or better.

The BatchNorm running variance was a real difference of the port, found here: PyTorch averages
the *unbiased* batch variance (÷ (n − 1)) into ``running_var``, Flax's ``nn.BatchNorm`` the biased
one (÷ n), ~1 % less at batch 100. ``jaxnets.models.BatchNorm`` now keeps PyTorch's; the step
test checks it, and ``test_running_var_is_pytorchs_not_flaxs`` that the running variance is not
the biased average (which it would equal, within 1e-4, under Flax's convention)."""

from __future__ import annotations

import functools
import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import needs_fashion, needs_mnist
from tests.helpers import relative, tree_apart, x64

torch = pytest.importorskip("torch", reason="the twins need PyTorch: pip install -e '.[twin]'")

from experiments.batch_norm import BNNet  # noqa: E402
from experiments.fashion_mnist import NotebookNet  # noqa: E402
from jaxnets import losses, optim  # noqa: E402
from jaxnets.metrics import classification_metrics  # noqa: E402
from jaxnets.train import create_train_state, train_step  # noqa: E402
from twins import batch_norm, convert, fashion_mnist  # noqa: E402
from twins.data import image_datasets  # noqa: E402

TOL = 1e-4
STEPS = 120  # B11, B12: 120 batches of 100


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """These nets are small: one thread runs them fastest, and far faster on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batches(
    name: str, batch_size: int, steps: int | None = None, epochs: int = 1, valid_split: bool = False
):
    """The twin's training batches: a seeded, shuffled ``DataLoader`` (drop_last as the homework
    sets it, or over the notebook's 90 % ``random_split`` with its last partial batch for D2-D3),
    reshuffled each epoch, for ``epochs`` epochs or the first ``steps`` batches."""
    torch.manual_seed(0)
    train, _ = image_datasets(name)
    if valid_split:
        train, _ = torch.utils.data.random_split(train, [0.9, 0.1])
    loader = torch.utils.data.DataLoader(
        train, batch_size=batch_size, shuffle=True, drop_last=not valid_split
    )
    steps = steps or epochs * len(loader)
    return list(itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)), steps))


def _state(model: nn.Module, tx, params: dict, batch_stats: dict | None = None):
    """A jaxnets state of ``model`` whose parameters (and BN statistics) are the twin's, in float64
    (call it under ``jax.enable_x64``), with the optimizer's state initialised on them."""
    given = {"params": params} | ({} if batch_stats is None else {"batch_stats": batch_stats})
    return create_train_state(
        model,
        tx,
        np.zeros((1, 784), np.float64),
        jax.random.key(0),
        loss_fn=losses.cross_entropy,
        metrics_fn=classification_metrics,
        variables=jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), given),  # (names and shapes checked)
    )


# --- B11, B12: the homework's BN net -------------------------------------------------------------


def _layers(net: torch.nn.Sequential, bn: bool) -> tuple[list, list]:
    """The Linear and BatchNorm1d layers of the homework's Sequential, in order."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    bns = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)] if bn else []
    return linears, bns


def _variables(net: torch.nn.Sequential, bn: bool) -> tuple[dict, dict]:
    """The twin's parameters and BN statistics as ``BNNet``'s (Linear_i, BatchNorm_i)."""
    linears, bns = _layers(net, bn)
    params, stats = convert.linears(linears), {}
    for i, layer in enumerate(bns):
        params[f"BatchNorm_{i}"], stats[f"BatchNorm_{i}"] = convert.batch_norm(layer)
    return params, stats


class _GivenMask(torch.nn.Module):
    """``nn.Dropout(p)`` in training with a given keep-mask: x · mask / (1 − p)."""

    def __init__(self, p: float):
        super().__init__()
        self.p, self.mask = p, None

    def forward(self, x):
        return x * self.mask / (1 - self.p) if self.training else x


@functools.partial(jax.jit, static_argnums=0)
def _dropout_masks(model: nn.Module, params, batch_stats, x, key, step):
    """The keep-masks of ``model``'s Dropout layers in ``train_step(state, (x, ·))``: the layers'
    outputs under its key (where an input is 0 its mask does not matter: the output and, through the
    ReLU before, the gradient are 0 either way)."""
    _, found = model.apply(
        {"params": params, "batch_stats": batch_stats} if batch_stats else {"params": params},
        x,
        train=True,
        rngs={"dropout": jax.random.fold_in(key, step)},
        mutable=["batch_stats", "intermediates"],
        capture_intermediates=lambda module, _: isinstance(module, nn.Dropout),
    )
    outs = found["intermediates"]
    return [outs[f"Dropout_{i}"]["__call__"][0] != 0 for i in range(len(outs))]


def _bn_run(hidden: tuple[int, int], bn: bool, lr: float):
    """Train the homework's net (twin) and its port from the same start on the same batches and
    masks for ``STEPS`` steps; the two states, the worst loss difference, and the running average of
    the biased batch variances of the twin's BN inputs."""
    torch.manual_seed(0)
    net = batch_norm.make_model(hidden, batch_norm=bn).double()
    drops = [i for i, m in enumerate(net) if isinstance(m, torch.nn.Dropout)]
    for i in drops:  # the homework shares one nn.Dropout between both hidden layers
        net[i] = _GivenMask(batch_norm.drop_prob)
    model = BNNet(hidden, batch_norm.drop_prob, batch_norm=bn)  # the model as B11 and B12 build it
    params, stats = _variables(net, bn)
    state = _state(model, optim.optimizer("adam", lr), params, stats)
    optimizer, criterion = torch.optim.Adam(net.parameters(), lr=lr), torch.nn.CrossEntropyLoss()

    biased = [convert.array(m.running_var) for m in _layers(net, bn)[1]]

    def record(i: int, momentum: float):
        def hook(_module, inputs):
            var = inputs[0].detach().var(dim=0, unbiased=False).numpy()
            biased[i] = (1 - momentum) * biased[i] + momentum * var

        return hook

    for i, layer in enumerate(_layers(net, bn)[1]):
        layer.register_forward_pre_hook(record(i, layer.momentum))

    net.train()
    worst = 0.0
    for X, Y in _batches("mnist", batch_norm.batch_size, STEPS):
        X = X.double()
        x, y = X.view(-1, 28 * 28).numpy(), Y.numpy().astype(np.int32)
        masks = _dropout_masks(model, state.params, state.batch_stats, x, state.key, state.step)
        for i, mask in zip(drops, masks, strict=True):
            net[i].mask = torch.from_numpy(np.asarray(mask, np.float64))
        twin_loss = batch_norm.train_step(net, optimizer, criterion, X, Y)
        state, metrics = train_step(state, (x, y))
        worst = max(worst, relative(float(metrics["loss"]), twin_loss))
    return net, state, worst, biased


@functools.cache
def _bn_result(hidden: tuple[int, int], bn: bool, lr: float):
    with x64():
        net, state, worst, biased = _bn_run(hidden, bn, lr)
    params, stats = _variables(net, bn)
    return {
        "loss": worst,
        "params": tree_apart(state.params, params),
        "mean": tree_apart(
            {k: v["mean"] for k, v in state.batch_stats.items()}, {k: v["mean"] for k, v in stats.items()}
        ),
        "var vs biased average": tree_apart(
            {k: v["var"] for k, v in state.batch_stats.items()},
            {f"BatchNorm_{i}": v for i, v in enumerate(biased)},
        ),
        "var vs torch": tree_apart(
            {k: v["var"] for k, v in state.batch_stats.items()}, {k: v["var"] for k, v in stats.items()}
        ),
    }


B11_B12 = {
    "B11 BN, lr 0.1": ((100, 100), True, 0.1),
    "B11 no BN, lr 0.1": ((100, 100), False, 0.1),
    "B11 BN, lr 0.01": ((100, 100), True, 0.01),
    "B12 BN 200-150, lr 0.1": ((200, 150), True, 0.1),
}


@needs_mnist
@pytest.mark.parametrize("lab", B11_B12)
def test_b11_b12_step_for_step(lab):
    hidden, bn, lr = B11_B12[lab]
    r = _bn_result(hidden, bn, lr)
    assert r["loss"] <= TOL, f"{lab}, {STEPS} steps: losses {r['loss']:.1e} apart"
    assert r["params"] <= TOL, f"{lab}: parameters {r['params']:.1e} apart after {STEPS} steps"
    if bn:
        assert r["mean"] <= TOL, f"{lab}: BN running means {r['mean']:.1e} apart"
        assert r["var vs torch"] <= TOL, f"{lab}: BN running vars {r['var vs torch']:.1e} apart"


@needs_mnist
def test_running_var_is_pytorchs_not_flaxs():
    r = _bn_result((100, 100), True, 0.1)
    assert r["var vs torch"] <= TOL, (
        f"BN running vars {r['var vs torch']:.1e} apart from PyTorch's (relative)"
    )
    assert r["var vs biased average"] > 1e-3, "the running variance is the biased one (Flax's convention)"


# --- D2-D3: the study group's notebook ------------------------------------------------------------


@pytest.mark.parametrize(
    "dataset", [pytest.param("mnist", marks=needs_mnist), pytest.param("fashion_mnist", marks=needs_fashion)]
)
def test_d2_d3_notebook_step_for_step(dataset):
    """784-128-10, Adam 1e-3, batch 1024 over the 90 % split: 52 full batches and one of 752 per
    epoch (the ``DataLoader``'s default keeps the last partial batch); two epochs, 106 steps."""
    torch.manual_seed(0)
    net = fashion_mnist.make_model().double()
    batches = _batches(dataset, fashion_mnist.batch_size, epochs=2, valid_split=True)
    sizes = sorted({len(Y) for _, Y in batches})
    assert sizes == [752, 1024] and len(batches) == 106, (sizes, len(batches))
    with x64():
        state = _state(NotebookNet((128,)), optim.optimizer("adam", 1e-3), convert.linears([net[0], net[2]]))
        optimizer, loss_function = torch.optim.Adam(net.parameters(), lr=1e-3), torch.nn.CrossEntropyLoss()
        worst = 0.0
        for images, labels in batches:
            images = images.double()
            twin_loss = fashion_mnist.train_step(net, optimizer, loss_function, images, labels)
            x, y = images.reshape(-1, 28 * 28).numpy(), labels.numpy().astype(np.int32)
            state, metrics = train_step(state, (x, y))
            worst = max(worst, relative(float(metrics["loss"]), twin_loss))
    assert worst <= TOL, f"{dataset}, {len(batches)} steps: losses {worst:.1e} apart"
    params = tree_apart(state.params, convert.linears([net[0], net[2]]))
    assert params <= TOL, f"{dataset}: parameters {params:.1e} apart after {len(batches)} steps"
