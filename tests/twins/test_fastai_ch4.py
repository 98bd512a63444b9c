"""Step for step, the fastai book's chapter-4 labs (C3, C4, C5) in jaxnets and in the notes' own
PyTorch code (``twins/``): both start from the same parameters (the twin's, converted) and take the
same batches in the same order (the book's unshuffled loader: 3s, then 7s, the last batch
partial); every step's loss and the parameters after 3 epochs (147 steps) agree within 1e-4."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.conftest import needs_mnist
from tests.helpers import relative, tree_apart

torch = pytest.importorskip("torch", reason="the twins need PyTorch: pip install -e '.[twin]'")

from experiments.linear_scratch import calc_grad_and_step, linear1, mnist_loss  # noqa: E402
from experiments.simple_net import SimpleNet  # noqa: E402
from jaxnets import losses, models, optim  # noqa: E402
from jaxnets.metrics import logit_binary_metrics  # noqa: E402
from jaxnets.train import create_train_state, train_step  # noqa: E402
from twins import basic_optim, convert, linear_scratch, simple_net  # noqa: E402
from twins.data import mnist_sample  # noqa: E402

EPOCHS = 3
TOL = 1e-4


def _batches():
    (x, y), _ = mnist_sample()
    for _ in range(EPOCHS):
        for i in range(0, len(x), 256):
            yield x[i : i + 256], y[i : i + 256]


def _state(model, tx, params):
    """A jaxnets state of ``model`` whose parameters are the twin's."""
    return create_train_state(
        model,
        tx,
        np.zeros((1, 784), np.float32),
        jax.random.key(0),
        loss_fn=losses.mnist_loss,
        metrics_fn=logit_binary_metrics,
        variables={"params": params},
    )


@needs_mnist
def test_c3_linear_from_scratch_step_for_step():
    torch.manual_seed(0)
    weights, bias = linear_scratch.init_params((28 * 28, 1)), linear_scratch.init_params(1)
    ours = {"weights": jnp.asarray(convert.array(weights)), "bias": jnp.asarray(convert.array(bias))}
    worst = 0.0
    steps = 0
    for xb, yb in _batches():
        loss = linear_scratch.calc_grad(xb, yb, lambda xb: xb @ weights + bias)
        linear_scratch.step((weights, bias), 1.0)
        xb_, yb_ = jnp.asarray(xb.numpy()), jnp.asarray(yb.numpy())  # (the book's yb: a column)
        ours_loss = float(mnist_loss(linear1(ours, xb_), yb_))
        ours = calc_grad_and_step(ours, xb_, yb_, 1.0)
        worst = max(worst, relative(ours_loss, loss.item()))
        steps += 1
    assert steps >= 100 and worst <= TOL, f"{steps} steps: losses {worst:.1e} apart"
    assert tree_apart(ours, {"weights": convert.array(weights), "bias": convert.array(bias)}) <= TOL


@needs_mnist
@pytest.mark.parametrize("lab", ["C4", "C5"])
def test_c4_c5_through_train_step_step_for_step(lab):
    torch.manual_seed(0)
    if lab == "C4":
        twin_model, model = torch.nn.Linear(28 * 28, 1), models.MLP((1,))
        twin_opt, tx, step, layers = (
            basic_optim.BasicOptim(twin_model.parameters(), 1.0),
            optim.basic_optim(1.0),
            basic_optim.train_step,
            [twin_model],
        )
    else:
        twin_model, model = simple_net.simple_net_model(), SimpleNet(30)
        twin_opt, tx, step = (
            torch.optim.SGD(twin_model.parameters(), lr=0.1),
            optax.sgd(0.1),
            simple_net.train_step,
        )
        layers = [twin_model[0], twin_model[2]]
    state = _state(model, tx, convert.linears(layers))
    worst, steps = 0.0, 0
    for xb, yb in _batches():
        twin_loss = step(twin_model, twin_opt, xb, yb)
        state, metrics = train_step(state, (xb.numpy(), yb.numpy()[:, 0].astype(np.int32)))
        worst = max(worst, relative(float(metrics["loss"]), twin_loss))
        steps += 1
    assert steps >= 100 and worst <= TOL, f"{lab}, {steps} steps: losses {worst:.1e} apart"
    assert tree_apart(state.params, convert.linears(layers)) <= TOL, lab
