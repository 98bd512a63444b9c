"""The jitted steps: gradients, BatchNorm and dropout modes, the scanned epoch."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxnets import losses, models, optim
from jaxnets.errors import InputError
from jaxnets.evaluation import evaluate
from jaxnets.metrics import classification_metrics
from jaxnets.state import create_train_state, create_train_states
from jaxnets.steps import (
    epoch_batches,
    eval_step,
    loop_epoch,
    predict,
    train_epoch,
    train_full_batch,
    train_step,
)
from tests.helpers import KEY, blobs, copy, state_for, x64


def test_grads_match_finite_differences():
    x, y = blobs(16)
    model = models.MLP((8, 2), activation="tanh")
    params = model.init(KEY, x)["params"]
    with x64():
        params64 = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        f = jax.jit(
            lambda p: losses.cross_entropy(model.apply({"params": p}, x.astype(jnp.float64)), y).mean()
        )
        check_grads(f, (params64,), order=1, modes=["rev"], eps=1e-4, atol=1e-6, rtol=1e-4)


def test_train_step_lowers_the_loss_and_eval_step_changes_nothing():
    x, y = blobs()
    state = state_for(models.MLP((16, 2)), x)
    before = eval_step(state, (x, y))
    snapshot = copy(state)
    after_eval = eval_step(state, (x, y))
    chex.assert_trees_all_equal(snapshot.params, state.params)
    chex.assert_trees_all_equal(before, after_eval)
    for _ in range(50):
        state, metrics = train_step(state, (x, y))
    assert int(state.step) == 50
    assert float(eval_step(state, (x, y))["loss"]) < 0.5 * float(before["loss"])
    assert float(eval_step(state, (x, y))["accuracy"]) > 0.95


def test_batch_norm_trains_on_batch_stats_and_evaluates_on_running_averages():
    x, y = blobs()
    state = state_for(models.MLP((16, 2), batch_norm=True, dropout=0.3), x)
    stats0 = copy(state.batch_stats)
    state, _ = train_step(state, (x, y))
    moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), stats0, state.batch_stats)
    assert all(jax.tree_util.tree_leaves(moved)), "training must update the running averages"
    # Evaluation is deterministic and each example's output does not depend on its batch mates.
    full = predict(state, x)
    chex.assert_trees_all_close(full, predict(state, x))
    chex.assert_trees_all_close(full[:10], predict(state, x[:10]), atol=1e-6)
    chex.assert_trees_all_close(full[5:6], predict(state, x[5:6]), atol=1e-6)
    perm = np.random.default_rng(0).permutation(len(x))
    chex.assert_trees_all_close(full[perm], predict(state, x[perm]), atol=1e-6)
    chex.assert_trees_all_close(eval_step(state, (x, y)), eval_step(state, (x, y)))


def test_dropout_is_random_in_training_and_keyed_by_rng():
    x, y = blobs(64)
    state = state_for(models.MLP((64, 2), dropout=0.5), x)
    run = jax.jit(lambda s, r: s.apply_fn({"params": s.params}, x, train=True, rngs={"dropout": r}))
    a, b = run(state, jax.random.key(1)), run(state, jax.random.key(2))
    assert not jnp.allclose(a, b)
    chex.assert_trees_all_equal(a, run(state, jax.random.key(1)))
    # An explicit rng to train_step is used: the same rng gives the same update, another rng
    # another one; without one, the step's key is fold_in(state.key, state.step).
    same = [train_step(copy(state), (x, y), jax.random.key(7))[0].params for _ in range(2)]
    chex.assert_trees_all_equal(*same)
    other = train_step(copy(state), (x, y), jax.random.key(8))[0].params
    assert not jnp.allclose(same[0]["Linear_0"]["kernel"], other["Linear_0"]["kernel"])
    default = train_step(copy(state), (x, y))[0].params
    folded = train_step(copy(state), (x, y), jax.random.fold_in(state.key, state.step))[0].params
    chex.assert_trees_all_equal(default, folded)
    assert not jnp.allclose(default["Linear_0"]["kernel"], other["Linear_0"]["kernel"])


def test_train_epoch_drops_the_remainder_and_does_not_retrace():
    x, y = blobs(250)
    state = state_for(models.MLP((8, 2)), x)
    traced = chex.assert_max_traces(n=1)(train_epoch.__wrapped__)
    epoch = jax.jit(traced, static_argnames=("batch_size", "shuffle"))
    for i in range(3):
        state, metrics = epoch(state, (x, y), jax.random.key(i), batch_size=100)
        chex.assert_shape(metrics["loss"], (2,))
    assert int(state.step) == 6
    with pytest.raises(InputError, match="batch size 1000 does not fit a data set of 250 examples"):
        train_epoch(state, (x, y), KEY, batch_size=1000)


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 200), batch=st.integers(1, 200), seed=st.integers(0, 2**31 - 1), shuffle=st.booleans()
)
def test_epoch_batches_visit_each_example_at_most_once_and_drop_only_the_remainder(n, batch, seed, shuffle):
    if batch > n:
        with pytest.raises(InputError):
            epoch_batches(n, jax.random.key(seed), batch, shuffle)
        return
    idx = np.asarray(epoch_batches(n, jax.random.key(seed), batch, shuffle))
    assert idx.shape == (n // batch, batch)
    seen = idx.ravel()
    assert len(set(seen.tolist())) == len(seen) == n - n % batch  # each at most once, only the rest dropped
    assert seen.min() >= 0 and seen.max() < n
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))
    # The shuffle itself is a permutation of all n examples.
    order = np.asarray(jax.random.permutation(jax.random.key(seed), n))
    np.testing.assert_array_equal(np.sort(order), np.arange(n))
    if shuffle:
        np.testing.assert_array_equal(seen, order[: len(seen)])


def test_train_full_batch_trains_each_run_of_a_stacked_state_as_it_would_alone():
    x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
    y = jnp.array([[0], [1], [1], [0]], jnp.float32)
    model = models.MLP((8, 1), activation="tanh", output_activation="sigmoid")
    tx = optim.optimizer("sgd", 1.0)
    keys = jax.random.split(KEY, 3)
    stacked = create_train_states(model, tx, x[:1], keys, loss_fn=losses.binary_cross_entropy)
    stacked, metrics = train_full_batch(stacked, (x, y), 500)
    chex.assert_shape(metrics["loss"], (3, 500))
    chex.assert_tree_shape_prefix(stacked.params, (3,))
    # The runs do not interact: run 1 among other neighbours gives the very same numbers, bit for bit.
    others = create_train_states(
        model, tx, x[:1], keys.at[0].set(keys[2]).at[2].set(KEY), loss_fn=losses.binary_cross_entropy
    )
    others, others_metrics = train_full_batch(others, (x, y), 500)
    chex.assert_trees_all_equal(stacked.run(1).params, others.run(1).params)
    np.testing.assert_array_equal(metrics["loss"][1], others_metrics["loss"][1])
    # And alone, the same to float rounding: vmap batches the run's matmuls, whose sums XLA may
    # order otherwise (jax 0.12.1: 1.5e-6 apart after 500 steps of lr 1 on values of ~0.3).
    alone = create_train_state(model, tx, x[:1], keys[1], loss_fn=losses.binary_cross_entropy)
    alone, alone_metrics = train_full_batch(alone, (x, y), 500)
    chex.assert_trees_all_close(stacked.run(1).params, alone.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"][1], alone_metrics["loss"], rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(metrics["loss"][:, -1]) < 0.5 * np.asarray(metrics["loss"][:, 0]))


def test_the_tests_multiply_in_float32_on_every_backend():
    """The precision policy is in force in the tests (conftest) and so in the programs they compile."""
    x, y = blobs(8)
    state = state_for(models.MLP((4, 2)), x)
    hlo = train_step.lower(state, (x, y)).as_text()
    dots = [line for line in hlo.splitlines() if "dot_general" in line]
    assert dots and all("precision = [HIGHEST, HIGHEST]" in line for line in dots)


def test_an_epoch_that_keeps_the_last_partial_batch_is_its_steps_one_after_another():
    """drop_last=False (PyTorch's and fastai's DataLoader default): the full batches, then one
    step on the rest, in the epoch's order; with a multiple of the batch size nothing changes."""
    x, y = blobs(250)
    state = state_for(models.MLP((8, 2)), x)
    kept, metrics = train_epoch(copy(state), (x, y), KEY, batch_size=100, shuffle=False, drop_last=False)
    chex.assert_shape(metrics["loss"], (3,))
    by_hand, losses_ = copy(state), []
    for rows in (slice(0, 100), slice(100, 200), slice(200, 250)):
        by_hand, m = train_step(by_hand, (x[rows], y[rows]))
        losses_.append(m["loss"])
    assert int(kept.step) == 3
    chex.assert_trees_all_close(kept.params, by_hand.params, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(metrics["loss"], np.stack(losses_), rtol=1e-6)
    shuffled, _ = train_epoch(copy(state), (x, y), KEY, batch_size=100, drop_last=False)
    order = jax.random.permutation(KEY, 250)  # the epoch's order: its tail is the last batch
    dropped, _ = train_epoch(copy(state), (x, y), KEY, batch_size=100)
    last, _ = train_step(dropped, (x[order[200:]], y[order[200:]]))
    chex.assert_trees_all_close(shuffled.params, last.params, rtol=1e-6, atol=1e-7)
    even = [
        train_epoch(copy(state), (x[:200], y[:200]), KEY, batch_size=100, drop_last=d)[1]["loss"]
        for d in (True, False)
    ]
    np.testing.assert_array_equal(*even)


def test_evaluate_refuses_labels_that_are_not_class_ids_up_front():
    x, y = blobs(64)
    state = state_for(models.MLP((4, 2)), x)
    for bad in (-1, 2):
        with pytest.raises(
            InputError, match=f"labels of the evaluated data must be class ids from 0 to 1.*{bad}"
        ):
            evaluate(state, (x, y.at[5].set(bad)))


@pytest.mark.parametrize("stacked", [False, True], ids=["one run", "two stacked runs"])
def test_an_epoch_as_a_scan_a_host_loop_or_unrolled_takes_the_same_steps(stacked):
    """``loop_epoch`` and ``train_epoch(unroll=k)`` against the scan: the same batches (a partial
    one kept), the same dropout keys, the same BatchNorm statistics and optimizer state; the loop
    bit for bit, the unrolled scan up to the order of float additions. (SGD: Adam would blow
    rounding noise up to whole steps on the bias before a BatchNorm, whose gradient is ~0.)"""
    x, y = blobs(250)
    model, tx = models.MLP((16, 2), batch_norm=True, dropout=0.3), optim.optimizer("sgd", 0.1)
    if stacked:
        keys = jax.random.split(KEY, 2)
        state = create_train_states(model, tx, x[:1], keys, metrics_fn=classification_metrics)
    else:
        keys, state = KEY, state_for(model, x, tx)
    kw = {"batch_size": 64, "drop_last": False}
    scanned = train_epoch(copy(state), (x, y), keys, **kw)
    looped = loop_epoch(copy(state), (x, y), keys, **kw)
    unrolled = train_epoch(copy(state), (x, y), keys, unroll=3, **kw)
    chex.assert_shape(scanned[1]["loss"], (2, 4) if stacked else (4,))
    numbers = lambda run: (run[0].params, run[0].batch_stats, run[0].opt_state, run[0].step, run[1])  # noqa: E731
    chex.assert_trees_all_equal(numbers(looped), numbers(scanned))
    chex.assert_trees_all_close(numbers(unrolled), numbers(scanned), rtol=1e-6, atol=1e-7)


def test_train_step_and_eval_step_take_a_stacked_state_one_value_per_run():
    """The run-axis rule: a stacked state steps each run on the same batch, with its own dropout
    key, and gives one value per run; run k is what run k alone gives."""
    x, y = blobs(64)
    model, tx = models.MLP((16, 2), dropout=0.3), optim.optimizer("sgd", 0.1)
    keys = jax.random.split(KEY, 3)
    stacked = create_train_states(model, tx, x[:1], keys, metrics_fn=classification_metrics)
    alone = create_train_state(model, tx, x[:1], keys[1], metrics_fn=classification_metrics)
    stacked, metrics = train_step(stacked, (x, y))
    alone, alone_metrics = train_step(alone, (x, y))
    assert metrics["loss"].shape == metrics["accuracy"].shape == (3,)
    np.testing.assert_allclose(metrics["loss"][1], alone_metrics["loss"], rtol=1e-6)
    chex.assert_trees_all_close(stacked.run(1).params, alone.params, rtol=1e-6, atol=1e-7)
    evaluated = eval_step(stacked, (x, y))
    assert evaluated["loss"].shape == (3,)
    np.testing.assert_allclose(evaluated["loss"][1], eval_step(alone, (x, y))["loss"], rtol=1e-6)
    # An explicit rng: one per run, each run its own.
    stacked, _ = train_step(stacked, (x, y), jax.random.split(jax.random.key(9), 3))
    with pytest.raises(InputError, match=r"a state of 3 run\(s\) needs 3 keys"):
        train_step(stacked, (x, y), jax.random.key(9))
