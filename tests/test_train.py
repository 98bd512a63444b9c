import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxnets import losses, models, optim
from jaxnets.errors import InputError
from jaxnets.train import (
    classification_metrics,
    create_train_state,
    early_stopping,
    epoch_batches,
    epoch_table,
    eval_step,
    evaluate,
    fit,
    fit_full_batch,
    minimize,
    predict,
    train_epoch,
    train_model,
    train_step,
)

KEY = jax.random.key(0)


def blobs(n=256, seed=0):
    """Two well separated 2-D classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)).astype(np.float32) + 3 * y[:, None]
    return jnp.asarray(x), jnp.asarray(y, jnp.int32)


def state_for(model, x, tx=None, **kw):
    return create_train_state(
        model, tx or optim.optimizer("sgd", 0.1), x[:1], KEY, metrics_fn=classification_metrics, **kw
    )


def copy(tree):
    return jax.tree_util.tree_map(jnp.array, tree)


def test_grads_match_finite_differences():
    x, y = blobs(16)
    model = models.MLP((8, 2), activation="tanh")
    params = model.init(KEY, x)["params"]
    with jax.enable_x64():
        params64 = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        f = jax.jit(lambda p: losses.cross_entropy(model.apply({"params": p}, x.astype(jnp.float64)), y))
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
    # An explicit rng to train_step is used: same rng, same update.
    s1, m1 = train_step(copy(state), (x, y), jax.random.key(7))
    s2, m2 = train_step(copy(state), (x, y), jax.random.key(7))
    chex.assert_trees_all_equal(s1.params, s2.params)


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


def test_fit_compiles_once_epochs_after_the_first_and_evaluation_reuse_it():
    """Compilation is paid in epoch 1 (train epoch and eval step); later epochs compile nothing."""
    x, y = blobs(300)
    compiles: list[int] = []

    def on_compile_epoch(epoch, state, row):
        compiles.append(len(events))

    def listener(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    events: list[str] = []
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        model = models.MLP((8, 8, 2), batch_norm=True, dropout=0.1)  # a shape no other test uses
        state = state_for(model, x, tx=optim.optimizer("adam", 1e-2))
        fit(state, (x, y), 4, 50, KEY, valid=(x, y), on_epoch=on_compile_epoch)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert compiles[0] > 0, "the first epoch compiles its step and eval"
    assert compiles[1:] == [compiles[0]] * 3, f"later epochs compiled again: {compiles}"


def test_fit_history_evaluation_and_determinism():
    x, y = blobs()
    model, tx = models.MLP((16, 2)), optim.optimizer("adam", 1e-2)
    runs = [
        train_model(model, tx, (x, y), 5, 32, seed=s, metrics_fn=classification_metrics, valid=(x, y))
        for s in (3, 3, 4)
    ]
    first, again, other = (r.history for r in runs)
    assert [r["epoch"] for r in first] == [1, 2, 3, 4, 5]
    assert {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "time_s"} <= set(first[0])
    assert first[-1]["train_loss"] < first[0]["train_loss"]
    assert first[-1]["valid_accuracy"] > 0.95
    strip = [{k: v for k, v in r.items() if k != "time_s"} for r in first]
    assert strip == [{k: v for k, v in r.items() if k != "time_s"} for r in again]
    assert strip != [{k: v for k, v in r.items() if k != "time_s"} for r in other]
    assert runs[0].steps["loss"].shape == (5 * (256 // 32),)
    assert evaluate(runs[0].state, (x, y), batch_size=100)["accuracy"] == pytest.approx(
        first[-1]["valid_accuracy"]
    )


def test_divergence_is_reported_not_raised():
    x = jnp.array([[73.0, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
    y = jnp.array([[152.0], [185], [180], [196], [142]])
    kw = dict(loss_fn=losses.mse, shuffle=False)
    stopped = train_model(models.linear_regression(), optax.sgd(0.1), (x, y), 20, **kw)
    assert stopped.diverged is not None and stopped.diverged.reason == "loss"
    assert len(stopped.history) == stopped.diverged.epoch < 20
    full = train_model(models.linear_regression(), optax.sgd(0.1), (x, y), 20, stop_on_divergence=False, **kw)
    assert len(full.history) == 20 and np.isnan(full.history[-1]["train_loss"])
    assert full.diverged == stopped.diverged


def test_l2_penalty_shrinks_weights():
    x, y = blobs()
    model, tx = models.MLP((16, 2)), optim.optimizer("sgd", 0.1)
    plain = train_model(model, tx, (x, y), 5, 32, metrics_fn=classification_metrics)
    decayed = train_model(model, tx, (x, y), 5, 32, metrics_fn=classification_metrics, l2=0.05)
    assert losses.l2_penalty(decayed.state.params) < losses.l2_penalty(plain.state.params)


def test_early_stopping_stops_and_keeps_the_best_state():
    x, y = blobs()
    stopper = early_stopping(patience=2)
    rows = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    fitted = fit(
        state_for(models.MLP((4, 2)), x),
        (x, y),
        5,
        64,
        KEY,
        on_epoch=lambda e, s, r: stopper(e, s, {"valid_loss": next(rows)}),
    )
    assert len(fitted.history) == 4 and stopper.best["epoch"] == 2
    # A run whose metric is nan from the start still has a best (the first) state to return.
    nan_stopper = early_stopping(patience=1)
    fit(
        state_for(models.MLP((4, 2)), x),
        (x, y),
        3,
        64,
        KEY,
        on_epoch=lambda e, s, r: nan_stopper(e, s, {"valid_loss": float("nan")}),
    )
    assert nan_stopper.best["epoch"] == 1 and nan_stopper.best["state"] is not None


def test_bad_batches_give_clear_errors_and_leave_the_state_usable():
    x, y = blobs(8)
    state = state_for(models.MLP((4, 2)), x)
    before = copy(state.params)
    for step in (train_step, eval_step):
        with pytest.raises(InputError, match="same leading"):
            step(state, (x, y[:3]))
        with pytest.raises(InputError, match=r"tuple \(inputs, targets\), got one array of shape \(8, 2\)"):
            step(state, x)
        with pytest.raises(
            InputError, match=r"shape \(8, 3\) do not fit .* initialised on inputs of shape \(N, 2\)"
        ):
            step(state, (jnp.ones((8, 3)), y))
        with pytest.raises(InputError, match="dtype uint8 .* float32 inputs: .*to_float"):
            step(state, (jnp.ones((8, 2), jnp.uint8), y))
        with pytest.raises(InputError, match="integer class ids"):
            step(state, (x, y.astype(jnp.float32)))
    with pytest.raises(InputError, match="dtype int32"):
        predict(state, jnp.ones((8, 2), jnp.int32))
    # The failed (donating) train_step consumed nothing: the state still trains.
    chex.assert_trees_all_equal(before, state.params)
    state, metrics = train_step(state, (x, y))
    assert np.isfinite(float(metrics["loss"]))


def test_fit_rejects_impossible_settings_before_compiling_anything():
    x, y = blobs(50)
    state = state_for(models.MLP((4, 2)), x)
    with pytest.raises(InputError, match="batch size 64 does not fit a data set of 50 examples"):
        fit(state, (x, y), 1, 64, KEY)
    with pytest.raises(InputError, match="epochs must be >= 0"):
        fit(state, (x, y), -1, 10, KEY)


@settings(max_examples=40, deadline=None)
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


def test_minimize_finds_the_likelihood_maximum():
    theta, nll, path = minimize(
        lambda t: -losses.binomial_log_likelihood(t, 100, 27), jnp.float32(0.5), optax.sgd(1e-3), 100
    )
    assert abs(float(theta) - 0.27) < 1e-4
    assert nll[-1] < nll[0] and path.shape == (100,)


def test_divergence_is_recorded_even_when_a_callback_stops_the_run():
    x = jnp.array([[73.0, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
    y = jnp.array([[152.0], [185], [180], [196], [142]])
    fitted = train_model(
        models.linear_regression(),
        optax.sgd(0.1),
        (x, y),
        20,
        loss_fn=losses.mse,
        shuffle=False,
        stop_on_divergence=False,
        on_epoch=lambda e, s, r: e == 6,
    )
    assert len(fitted.history) == 6 and fitted.diverged is not None and fitted.diverged.epoch == 6


def test_fit_full_batch_runs_each_key_independently_and_learns_xor():
    x = jnp.array([[0, 0], [0, 1], [1, 0], [1, 1]], jnp.float32)
    y = jnp.array([[0], [1], [1], [0]], jnp.float32)
    model = models.MLP((8, 1), activation="tanh", output_activation="sigmoid")
    tx = optim.optimizer("sgd", 1.0)
    keys = jax.random.split(KEY, 3)
    params, step_losses = fit_full_batch(model, tx, (x, y), 500, keys, losses.binary_cross_entropy)
    chex.assert_shape(step_losses, (3, 500))
    chex.assert_tree_shape_prefix(params, (3,))
    # Run 1 alone gives what it gave among the others: the runs do not interact.
    alone, alone_losses = fit_full_batch(model, tx, (x, y), 500, keys[1:2], losses.binary_cross_entropy)
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[1:2], params), alone, atol=1e-6)
    np.testing.assert_allclose(step_losses[1:2], alone_losses, atol=1e-6)
    assert np.all(np.asarray(step_losses[:, -1]) < 0.5 * np.asarray(step_losses[:, 0]))


def test_epoch_table_prints_a_header_and_one_row_per_epoch():
    x, y = blobs()
    lines = []
    fit(
        state_for(models.MLP((8, 2)), x),
        (x, y),
        3,
        64,
        KEY,
        valid=(x, y),
        on_epoch=epoch_table(print_fn=lines.append),
    )
    assert lines[0].split()[:4] == ["epoch", "train_loss", "valid_loss", "valid_accuracy"]
    assert len(lines) == 4 and lines[3].startswith("3 ")
