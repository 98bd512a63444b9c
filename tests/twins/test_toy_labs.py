"""Step for step, the small full-batch labs (A2, A3, A4, B3, B4-B5, C2) in jaxnets and in the notes'
own PyTorch code (``twins/``): both start from the same parameters (the twin's, converted), train
on the same data (the twin's literal tensors equal ``experiments.harness.toy_data``'s arrays; C2's
speeds are the lab's draw), and every step's loss and the parameters agree within 1e-4 (relative):
over the whole run for A2-A4 (20 epochs) and C2 (30 steps); over the first 2,000 of the 10,001
steps for B3 and B5, 3,000 for B4 (whose loss leaves the ln 2 plateau at step ~1,500 and is at
0.02 by step 3,000), since the torch side alone takes 5-15 s for a whole run on a busy CPU. (Run
once over all 10,001 steps, B3 and B4 agree within 1e-4 too: losses within 8e-6 (AND), 6e-5 (OR:
a loss of 9e-4, near float32's resolution of log p for p near 1), 2e-7 (XOR), 2e-5 (B4). B5: see
its test.)

Our side runs as the ports do: ``fit`` (full batch, unshuffled) for A2-A4; the lab's own jitted
``apply_step`` for C2; for B3-B5 the labs' own models (``Perceptron``, ``XORNet``) stepped by lab
08-1's jitted ``train_step`` (``experiments.perceptron``) in the lab's loop. Where a run diverges
on purpose (A4 on raw inputs), the finite part is compared and both overflow to inf, then nan, at
the same epoch. (A3 at lr 1e5 overshoots to ~1e6 and stays finite: all 20 epochs agree.) The
A2-A4 runs start from the notes' initialisation (``torch.manual_seed(1)``, the notebook's models
in its order): there our port prints the notes' own costs too."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training.train_state import TrainState

from tests.helpers import relative, tree_apart

torch = pytest.importorskip("torch", reason="the twins need PyTorch: pip install -e '.[twin]'")

from experiments import perceptron as b3_port  # noqa: E402
from experiments import quadratic_sgd as c2_port  # noqa: E402
from experiments import xor_mlp as b4_b5_port  # noqa: E402
from experiments.harness import toy_data  # noqa: E402
from experiments.overfitting import SoftmaxClassifierModel  # noqa: E402
from experiments.standardization import MultivariateLinearRegressionModel  # noqa: E402
from jaxnets import losses  # noqa: E402
from jaxnets.metrics import classification_metrics, no_metrics  # noqa: E402
from jaxnets.train import create_train_state, evaluate, fit  # noqa: E402
from twins import (  # noqa: E402
    convert,
    learning_rate,
    overfitting,
    perceptron,
    quadratic_sgd,
    standardization,
    xor_mlp,
)

TOL = 1e-4
B3_STEPS = 2000  # of the lab's 10,001 (see above)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Torch on one thread while these tests run: on tensors of a few numbers its thread pool only
    waits (with the cores busy, 20 steps of A2 take ~1 s on 2 threads and ~15 ms on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _worst(ours, twin) -> float:
    """The largest relative difference of two loss curves, step by step."""
    assert len(ours) == len(twin), (len(ours), len(twin))
    return max(relative(float(a), float(b)) for a, b in zip(ours, twin, strict=True))


def _state(model, tx, x, params, loss_fn, metrics_fn=no_metrics):
    """A jaxnets state of ``model`` whose parameters are the twin's (same names and shapes)."""
    variables = {"params": params}  # (names and shapes checked against the model's)
    return create_train_state(
        model, tx, x[:1], jax.random.key(0), loss_fn=loss_fn, metrics_fn=metrics_fn, variables=variables
    )


def _fit(state, train, epochs, valid=None, **kwargs):
    """The ports' ``train_model`` after its initialisation: full batch, unshuffled; also each epoch's
    parameters."""
    params = []
    fitted = fit(
        state,
        train,
        epochs=epochs,
        batch_size=len(train[0]),
        key=jax.random.key(0),
        valid=valid,
        shuffle=False,
        progress=False,
        on_epoch=lambda e, s, row: params.append(jax.device_get(s.params)),
        **kwargs,
    ).run(0)
    return fitted, [row["train_loss"] for row in fitted.rows], params


def _notebook_models(n: int) -> list:
    """Lab 07-1's models as the notebook creates them after ``torch.manual_seed(1)``: A2's, then
    A3's at lr 1e5, 1e-10 and 1e-1, then A4's (standardized, raw)."""
    torch.manual_seed(1)
    out = [overfitting.SoftmaxClassifierModel() for _ in range(min(n, 4))]
    return out + [standardization.MultivariateLinearRegressionModel() for _ in range(n - len(out))]


def test_twins_data_are_the_ports():
    (x_train, y_train), (x_test, y_test) = toy_data.softmax_toy()
    for ours, twin in (
        (x_train, overfitting.x_train),
        (y_train, overfitting.y_train),
        (x_test, overfitting.x_test),
        (y_test, overfitting.y_test),
    ):
        np.testing.assert_array_equal(ours, twin.numpy())
    x, y = toy_data.exam_scores()
    np.testing.assert_array_equal(x, standardization.x_train.numpy())
    np.testing.assert_array_equal(y, standardization.y_train.numpy())
    x_std = standardization.standardize(standardization.x_train).numpy()
    np.testing.assert_allclose(toy_data.standardize(x), x_std, rtol=1e-6, atol=1e-6)
    for gate, twin_y in perceptron.Y.items():
        x, y = toy_data.logic_gate(gate)
        np.testing.assert_array_equal(x, perceptron.X.numpy())
        np.testing.assert_array_equal(y, twin_y.numpy())
    t, _ = toy_data.speed_curve(0)
    np.testing.assert_array_equal(t, torch.arange(0, 20).float().numpy())


def test_twins_print_the_notes_at_seed_1():
    """The twins of lab 07-1, run as the notebook runs (one ``torch.manual_seed(1)``), print its costs."""
    a2, a3, a4 = overfitting.run(1), learning_rate.run(1), standardization.run(1)
    for module, got in ((overfitting, a2), (learning_rate, a3)):
        for number, spec in module.NUMBERS.items():
            assert relative(got[number], spec["notes"]) <= 1e-6 or got[number] == spec["notes"], number
    assert relative(a4["standardized: cost, epoch 0"], 29785.091797) <= 1e-6  # seed 003's run
    assert relative(a4["standardized: cost, epoch 19"], 6.633700) <= 1e-6
    assert (
        a4["raw: first epoch with cost inf (1-based)"],
        a4["raw: first epoch with cost nan (1-based)"],
    ) == (
        6,
        13,
    )


def test_a2_overfitting_step_for_step():
    (x, y), test = toy_data.softmax_toy()
    twin = _notebook_models(1)[0]
    state = _state(
        SoftmaxClassifierModel(),
        optax.sgd(0.1),
        x,
        convert.linears([twin.linear]),
        losses.cross_entropy,
        classification_metrics,
    )
    opt = torch.optim.SGD(twin.parameters(), lr=0.1)
    twin_costs, twin_params = [], []
    for _ in range(20):
        twin_costs.append(overfitting.train_step(twin, opt, overfitting.x_train, overfitting.y_train))
        twin_params.append(convert.linears([twin.linear]))
    fitted, costs, params = _fit(state, (x, y), 20, valid=test)
    assert _worst(costs, twin_costs) <= TOL
    assert max(tree_apart(o, t) for o, t in zip(params, twin_params, strict=True)) <= TOL
    measured = evaluate(fitted.state, test)
    accuracy, test_cost = overfitting.test(twin, overfitting.x_test, overfitting.y_test)
    assert relative(measured["loss"], test_cost) <= TOL and measured["accuracy"] == accuracy
    # From the notes' initial weights, our port prints the notes' costs.
    assert [round(costs[0], 6), round(costs[-1], 6), round(measured["loss"], 6)] == [
        2.203667,
        0.989365,
        1.425844,
    ]


@pytest.mark.parametrize("lr", learning_rate.LRS)
def test_a3_learning_rate_step_for_step(lr):
    """At lr 1e5 the cost jumps around ~1e6 (the lab's overshooting) and stays finite in both."""
    (x, y), _ = toy_data.softmax_toy()
    twin = _notebook_models(2 + learning_rate.LRS.index(lr))[-1]
    state = _state(
        SoftmaxClassifierModel(),
        optax.sgd(lr),
        x,
        convert.linears([twin.linear]),
        losses.cross_entropy,
        classification_metrics,
    )
    opt = torch.optim.SGD(twin.parameters(), lr=lr)
    twin_costs, twin_params = [], []
    for _ in range(20):
        twin_costs.append(overfitting.train_step(twin, opt, overfitting.x_train, overfitting.y_train))
        twin_params.append(convert.linears([twin.linear]))
    fitted, costs, params = _fit(state, (x, y), 20)  # the port stops on divergence: none here
    assert fitted.diverged is None and len(costs) == 20
    assert _worst(costs, twin_costs) <= TOL, (lr, np.array(costs), np.array(twin_costs))
    assert max(tree_apart(o, t) for o, t in zip(params, twin_params, strict=True)) <= TOL
    notes = {1e5: (1.280268, 976950.75), 1e-10: (3.187324, 3.187324), 1e-1: (1.341573, 1.198802)}[lr]
    assert all(relative(c, n) <= 1e-6 for c, n in zip(costs[:2], notes, strict=True)), costs[:2]


def test_a4_standardization_step_for_step():
    """Standardized inputs over 20 epochs; raw inputs up to their overflow (the costs, finite for
    5 epochs, then inf, then nan, at the same epochs on both sides; the parameters while finite)."""
    x, y = toy_data.exam_scores()
    *_, twin_std, twin_raw = _notebook_models(6)
    tx = optax.sgd(0.1)
    for twin, inputs, twin_inputs in (
        (twin_std, toy_data.standardize(x), standardization.standardize(standardization.x_train)),
        (twin_raw, x, standardization.x_train),
    ):
        linear = convert.linears([twin.linear])
        state = _state(MultivariateLinearRegressionModel(), tx, inputs, linear, optax.squared_error)
        opt = torch.optim.SGD(twin.parameters(), lr=0.1)
        twin_costs, twin_params = [], []
        for _ in range(20):
            twin_costs.append(standardization.train_step(twin, opt, twin_inputs, standardization.y_train))
            twin_params.append(convert.linears([twin.linear]))
        _, costs, params = _fit(state, (inputs, y), 20, stop_on_divergence=False)
        finite = np.isfinite(twin_costs)
        np.testing.assert_array_equal(np.isfinite(costs), finite)
        np.testing.assert_array_equal(np.isnan(costs), np.isnan(twin_costs))
        assert _worst(np.array(costs)[finite], np.array(twin_costs)[finite]) <= TOL
        kept = [
            k for k, p in enumerate(twin_params) if all(np.isfinite(v).all() for v in p["Linear_0"].values())
        ]
        assert max(tree_apart(params[k], twin_params[k]) for k in kept) <= TOL
        if twin is twin_std:
            assert finite.all() and len(kept) == 20
            assert round(costs[-1], 4) == 6.6337  # seed 003's 6.633700
        else:
            assert finite.sum() == 5 and np.flatnonzero(np.isnan(costs))[0] + 1 == 13  # the notes' epochs


def test_c2_quadratic_step_for_step():
    """The lab's ``apply_step`` beside the notes' from the twin's coefficients, on the lab's speeds."""
    cfg = c2_port.Config()
    time = jnp.arange(0, 20).astype(jnp.float32)
    speed, _ = c2_port.speeds_and_params(jax.random.key(0), time)
    torch.manual_seed(0)
    params = torch.randn(3).requires_grad_()
    ours = jnp.asarray(convert.array(params))
    twin_time, twin_speed = torch.from_numpy(np.array(time)), torch.from_numpy(np.array(speed))
    losses_, twin_losses, apart = [], [], 0.0
    for step in range(cfg.slow_steps + cfg.epochs):
        lr = cfg.slow_lr if step < cfg.slow_steps else cfg.lr
        twin_losses.append(quadratic_sgd.apply_step(params, twin_time, twin_speed, lr))
        ours, loss = c2_port.apply_step(ours, time, speed, lr)
        losses_.append(float(loss))
        apart = max(apart, tree_apart({"coeffs": ours}, {"coeffs": convert.array(params)}))
    assert _worst(losses_, twin_losses) <= TOL
    assert apart <= TOL
    final = float(c2_port.mse(c2_port.f(time, ours), speed))
    assert relative(final, quadratic_sgd.mse(quadratic_sgd.f(twin_time, params), twin_speed).item()) <= TOL


def _full_batch(model, twin, layers, x, y, segments):
    """Full-batch steps of the twin (BCE, SGD lr 1) and of the lab's loop of its jitted
    ``train_step`` from the twin's parameters, in ``segments`` (numbers of steps): both sides'
    losses, and both sides' parameters after each segment."""
    state = TrainState.create(apply_fn=model.apply, params=convert.linears(layers), tx=optax.sgd(1.0))
    costs, twin_costs, params = [], [], []
    for steps in segments:
        twin_costs += perceptron.train(twin, torch.from_numpy(x), torch.from_numpy(y), steps)
        for _ in range(steps):
            state, cost = b3_port.train_step(state, x, y)
            costs.append(cost)
        params.append((jax.device_get(state.params), convert.linears(layers)))
    return np.asarray(costs).tolist(), twin_costs, params


@pytest.mark.parametrize("gate", ["and", "or", "xor"])
def test_b3_perceptron_step_for_step(gate):
    """XOR's weights fall to 0 (its loss to ln 2) until, from step ~500, they sit at float32's
    resolution (w = 2**-23, b ≈ -1.6e-7), where the step p − y ≈ 0.5 − 0.5 rounds to nothing: there the
    parameters are compared absolutely (1e-6), and relatively after 100 steps (|w| ~ 5e-3)."""
    x, y = toy_data.logic_gate(gate)
    torch.manual_seed(0)
    twin = perceptron.perceptron_model()
    segments = (100, B3_STEPS - 100) if gate == "xor" else (B3_STEPS,)
    costs, twin_costs, params = _full_batch(b3_port.Perceptron(), twin, [twin[0]], x, y, segments)
    assert len(costs) == B3_STEPS and _worst(costs, twin_costs) <= TOL, gate
    assert tree_apart(*params[0]) <= TOL, gate
    if gate == "xor":
        ours, theirs = params[-1]
        assert (
            max(np.abs(ours["Linear_0"][k] - theirs["Linear_0"][k]).max() for k in theirs["Linear_0"]) <= 1e-6
        )
        assert abs(costs[-1] - np.log(2)) <= 1e-6


@pytest.mark.parametrize(("net", "widths", "steps"), [("B4", (2, 1), 3000), ("B5", (10, 10, 10, 1), 2000)])
def test_b4_b5_xor_mlp_step_for_step(net, widths, steps):
    """B5 is compared over its first 2,000 steps, on the ln 2 plateau (losses within ~2e-7). On the
    plateau, float32 rounding grows along the saddle's unstable direction (the output bias, near 0,
    differs by 3e-5 of itself after 2,000 steps, 9e-5 after 3,000, each float32 side as far from a
    float64 run as from the other). Over all 10,001 steps both leave the plateau at the same step,
    ±1, and end within 0.1 %, but during the steep escape single steps' losses lie further apart
    than 1e-4."""
    x, y = toy_data.logic_gate("xor")
    torch.manual_seed(0)
    twin = xor_mlp.NETS[net]()
    layers = [m for m in twin if isinstance(m, torch.nn.Linear)]
    costs, twin_costs, params = _full_batch(b4_b5_port.XORNet(widths), twin, layers, x, y, (steps,))
    assert _worst(costs, twin_costs) <= TOL, net
    assert tree_apart(*params[0]) <= TOL, net
