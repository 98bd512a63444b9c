"""The epoch loop: history, evaluation, determinism, divergence, callbacks, compiling once."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

from jaxnets import losses, models, optim, xla_cpu
from jaxnets.errors import InputError
from jaxnets.evaluation import evaluate
from jaxnets.loop import fit, seed_keys, seed_plus, seeded_state, train_model
from jaxnets.metrics import classification_metrics
from jaxnets.state import create_train_state
from tests.helpers import KEY, blobs, counting_compiles, state_for, untimed


def test_fit_compiles_once_epochs_after_the_first_and_evaluation_reuse_it():
    """Compilation is paid in epoch 1 (train epoch and eval step); later epochs compile nothing."""
    x, y = blobs(300)
    compiles: list[int] = []
    with counting_compiles() as events:
        model = models.MLP((8, 8, 2), batch_norm=True, dropout=0.1)  # a shape no other test uses
        state = state_for(model, x, tx=optim.optimizer("adam", 1e-2))
        fit(
            state,
            (x, y),
            epochs=4,
            batch_size=50,
            key=KEY,
            valid=(x, y),
            on_epoch=lambda *_: compiles.append(len(events)),
        )
    assert compiles[0] > 0, "the first epoch compiles its step and eval"
    assert compiles[1:] == [compiles[0]] * 3, f"later epochs compiled again: {compiles}"


def test_fit_history_evaluation_and_determinism():
    x, y = blobs()
    model, tx = models.MLP((16, 2)), optim.optimizer("adam", 1e-2)
    runs = [
        train_model(
            model,
            tx,
            (x, y),
            epochs=5,
            batch_size=32,
            seed=s,
            metrics_fn=classification_metrics,
            valid=(x, y),
        )
        for s in (3, 3, 4)
    ]
    # One run: each history column one value per epoch, as Keras' History.history["loss"].
    history = runs[0].history
    assert {"epoch", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy", "time_s"} <= set(history)
    assert all(v.shape == (5,) for v in history.values()) and runs[0].diverged is None
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["valid_accuracy"][-1] > 0.95
    first, again, other = (r.rows for r in runs)  # the same, as rows
    assert [r["train_loss"] for r in first] == history["train_loss"].tolist()
    assert untimed(first) == untimed(again) and untimed(first) != untimed(other)
    assert runs[0].steps["loss"].shape == (5 * (256 // 32),)
    assert runs[0].run(0) is runs[0]
    assert evaluate(runs[0].state, (x, y), batch_size=100)["accuracy"] == pytest.approx(
        history["valid_accuracy"][-1]
    )


def test_divergence_is_reported_not_raised():
    x = jnp.array([[73.0, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
    y = jnp.array([[152.0], [185], [180], [196], [142]])
    kw = dict(loss_fn=losses.mse, shuffle=False)
    stopped = train_model(models.linear_regression(), optax.sgd(0.1), (x, y), epochs=20, **kw)
    assert stopped.diverged is not None and stopped.diverged.reason == "loss"
    assert len(stopped.history["train_loss"]) == stopped.diverged.epoch < 20
    full = train_model(
        models.linear_regression(), optax.sgd(0.1), (x, y), epochs=20, stop_on_divergence=False, **kw
    )
    assert len(full.history["train_loss"]) == 20 and np.isnan(full.history["train_loss"][-1])
    assert full.diverged == stopped.diverged


def test_divergence_is_recorded_even_when_a_callback_stops_the_run():
    x = jnp.array([[73.0, 80, 75], [93, 88, 93], [89, 91, 90], [96, 98, 100], [73, 66, 70]])
    y = jnp.array([[152.0], [185], [180], [196], [142]])
    fitted = train_model(
        models.linear_regression(),
        optax.sgd(0.1),
        (x, y),
        epochs=20,
        loss_fn=losses.mse,
        shuffle=False,
        stop_on_divergence=False,
        on_epoch=lambda e, s, r: e == 6,
    )
    assert len(fitted.rows) == 6 and fitted.diverged is not None and fitted.diverged.epoch == 6


def test_l2_penalty_shrinks_weights():
    x, y = blobs()
    model, tx = models.MLP((16, 2)), optim.optimizer("sgd", 0.1)
    plain = train_model(model, tx, (x, y), epochs=5, batch_size=32, metrics_fn=classification_metrics)
    decayed = train_model(
        model, tx, (x, y), epochs=5, batch_size=32, metrics_fn=classification_metrics, l2=0.05
    )
    assert losses.l2_penalty(decayed.state.params) < losses.l2_penalty(plain.state.params)


def test_fit_rejects_impossible_settings_before_compiling_anything():
    x, y = blobs(50)
    state = state_for(models.MLP((4, 2)), x)
    with pytest.raises(InputError, match="batch size 64 does not fit a data set of 50 examples"):
        fit(state, (x, y), epochs=1, batch_size=64, key=KEY)
    for name, value in (("epochs", -1), ("epochs", 2.5), ("batch_size", 10.0), ("checkpoint_every", 0)):
        with pytest.raises(InputError, match=f"{name} must be a whole number >= ., got {value!r}"):
            fit(state, (x, y), key=KEY, **{"epochs": 1, "batch_size": 10, name: value})
    with pytest.raises(InputError, match="drop_last=False trains on data held on the devices"):
        fit(state, (x, y), epochs=1, batch_size=10, key=KEY, stream=True, drop_last=False)


def _stacked_and_single(model, tx, seeds=(3, 4, 5), **fit_kwargs):
    x, y = blobs(256)
    kw = dict(metrics_fn=classification_metrics, valid=(x, y), progress=False, **fit_kwargs)
    stacked = train_model(model, tx, (x, y), epochs=4, batch_size=32, seed=seeds[0], seeds=len(seeds), **kw)
    singles = [train_model(model, tx, (x, y), epochs=4, batch_size=32, seed=s, **kw) for s in seeds]
    return stacked, singles, (x, y)


@pytest.mark.parametrize(
    ("net", "tx"),
    [
        ("dropout", optim.optimizer("adam", 1e-2)),
        ("batch norm + dropout", optim.optimizer("sgd", 0.1)),
    ],
)
def test_run_k_of_several_seeds_in_one_program_is_the_single_run_of_seed_k(net, tx):
    model = models.MLP((16, 16, 2), dropout=0.2, batch_norm=net.startswith("batch"))
    stacked, singles, data = _stacked_and_single(model, tx)
    assert stacked.state.runs == stacked.runs == 3 and stacked.history["train_loss"].shape == (3, 4)
    held_out = evaluate(stacked.state, data)
    for k, single in enumerate(singles):
        run = stacked.run(k)
        assert run.history["epoch"].tolist() == [1, 2, 3, 4]
        for column in ("train_loss", "valid_loss"):
            np.testing.assert_allclose(run.history[column], single.history[column], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(run.steps["loss"], single.steps["loss"], rtol=1e-5, atol=1e-6)
        # The same final accuracy to within a few examples (of 256).
        assert abs(held_out["accuracy"][k] - evaluate(single.state, data)["accuracy"]) <= 3 / 256


def test_one_seed_diverging_is_reported_and_leaves_the_others_alone():
    x, y = blobs(256)
    model, tx = models.MLP((8, 2)), optim.optimizer("sgd", 0.1)
    state, keys = seeded_state(model, tx, x[:1], seed=3, seeds=3, metrics_fn=classification_metrics)
    # Seed 4's weights blow up at once; seeds 3 and 5 are untouched.
    blown = state.replace(params=jax.tree.map(lambda p: p.at[1].multiply(1e38), state.params))
    fitted = fit(blown, (x, y), epochs=4, batch_size=32, key=keys, progress=False)
    reference = fit(state, (x, y), epochs=4, batch_size=32, key=keys, progress=False)
    assert fitted.diverged[0] is None and fitted.diverged[2] is None
    assert fitted.diverged[1] is not None and fitted.diverged[1].epoch == 1 and fitted.diverged[1].step <= 8
    assert len(fitted.run(1).rows) == 1, "the diverged seed stops recording at its divergence"

    def untimed(rows):
        return [{k: v for k, v in row.items() if k != "time_s"} for row in rows]

    for k in (0, 2):
        assert untimed(fitted.run(k).rows) == untimed(reference.run(k).rows)
    last = fitted.history["train_loss"][:, -1]
    assert np.isfinite(last[[0, 2]]).all() and np.isnan(last[1])


def test_seeds_outside_what_jax_takes_are_refused_and_derived_seeds_wrap():
    x, y = blobs(64)
    for kwargs, message in (
        ({"seed": 2**32}, "seed must be a whole number from 0 to 4294967295"),
        ({"seed": -1}, "seed must be a whole number"),
        ({"seeds": 0}, "seeds must be a whole number of runs, at least 1"),
    ):
        with pytest.raises(InputError, match=message):
            train_model(models.MLP((2,)), optim.optimizer("sgd", 0.1), (x, y), epochs=1, **kwargs)
    # The seeds after the largest wrap around: seed 2**32 - 1 and its next, 0.
    keys = seed_keys([2**32 - 1, 2**32])
    assert jax.random.key_data(keys[1]).tolist() == jax.random.key_data(jax.random.key(0)).tolist()
    assert seed_plus(2**32 - 1, 1000) == 999


def test_more_seeds_than_memory_holds_are_refused_up_front_with_how_many_fit(monkeypatch):
    import jaxnets.loop

    x, _ = blobs(8)
    monkeypatch.setattr(jaxnets.loop, "device_memory", lambda mesh: (10 * 2**20, "a 10 MB test device"))
    with pytest.raises(
        InputError, match=r"1000 seeds as one program need about .* GB .*: about \d+ fit at once"
    ):
        seeded_state(models.MLP((256, 2)), optim.optimizer("adam", 1e-3), x[:1], seed=0, seeds=1000)
    state, _ = seeded_state(models.MLP((256, 2)), optim.optimizer("adam", 1e-3), x[:1], seed=0, seeds=3)
    assert state.runs == 3


class _TinyCNN(nn.Module):
    """One 3×3 convolution, global average pooling, a dense layer: a model that convolves (its
    convolution XLA's own, or ``conv_as_matmul``, patches and one matmul)."""

    as_matmul: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        conv = nn.Conv(4, (3, 3), conv_general_dilated=xla_cpu.conv_as_matmul if self.as_matmul else None)
        x = nn.relu(conv(x[..., None]))
        return nn.Dense(2)(x.mean(axis=(1, 2)))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the choice made on CPU (elsewhere: one scan)")
def test_fit_chooses_how_an_epoch_runs_says_why_and_takes_the_same_steps_every_way():
    """On CPU a model whose program holds a convolution (XLA:CPU runs those many times slower
    inside a compiled loop) trains each epoch as a host loop of its compiled step; one written
    with ``conv_as_matmul`` holds none and scans; ``data_path`` says which and why; ``epoch_as``
    overrides it, to the same numbers (up to the rounding of the convolution's arithmetic). The
    user's model runs as written: nothing rewrites it."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((100, 8, 8)), jnp.float32)
    y = jnp.asarray((x.mean(axis=(1, 2)) > 0).astype(np.int32))
    state = state_for(_TinyCNN(), x, tx=optim.optimizer("sgd", 0.1))
    kw = {"epochs": 2, "batch_size": 32, "key": KEY}
    runs = {how: fit(state, (x, y), epoch_as=how, **kw) for how in (None, "scan", 2)}
    matmuls = state_for(_TinyCNN(as_matmul=True), x, tx=optim.optimizer("sgd", 0.1))
    runs["matmuls"] = fit(matmuls, (x, y), **kw)
    assert "each epoch a loop of the compiled step (convolutions on CPU" in runs[None].data_path
    assert "each epoch as scan (as asked)" in runs["scan"].data_path
    assert "each epoch as a scan unrolled 2 (as asked)" in runs[2].data_path
    assert "each epoch one compiled scan (no convolutions)" in runs["matmuls"].data_path
    # The same steps; XLA:CPU computes a convolution another way inside a compiled loop (that is
    # why it is slower there), so the numbers agree to float rounding (dense: bit for bit, test_steps).
    for how in (None, 2, "matmuls"):
        np.testing.assert_allclose(runs[how].steps["loss"], runs["scan"].steps["loss"], rtol=1e-6)
        np.testing.assert_allclose(runs[how].steps["accuracy"], runs["scan"].steps["accuracy"])
    dense = fit(state_for(models.MLP((8, 2)), *blobs()[:1]), blobs(), epochs=1, batch_size=32, key=KEY)
    assert "each epoch one compiled scan (no convolutions)" in dense.data_path
    for bad, message in (
        ("fast", "epoch_as must be 'scan', 'loop'"),
        (0, "epoch_as must be"),
        (True, "epoch_as"),
    ):
        with pytest.raises(InputError, match=message):
            fit(state, (x, y), epochs=1, batch_size=32, key=KEY, epoch_as=bad)
    with pytest.raises(InputError, match="this data set is streamed"):
        fit(state, (x, y), epochs=1, batch_size=32, key=KEY, epoch_as="loop", stream=True)


def test_a_loss_per_example_as_optax_writes_it_trains_as_its_mean():
    """``loss_fn`` as optax writes losses (one value per example): the same parameters as its
    batch mean; and evaluation, whose last batch is padded and masked, gives exact means."""
    x, y = blobs(250)
    per_example = optax.softmax_cross_entropy_with_integer_labels

    def mean(logits, labels):
        return per_example(logits, labels).mean()

    model, tx = models.MLP((16, 2)), optim.optimizer("adam", 1e-2)
    fits = [
        train_model(model, tx, (x, y), epochs=3, batch_size=32, loss_fn=f, valid=(x, y))
        for f in (per_example, mean)
    ]
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), fits[0].state.params, fits[1].state.params
    )
    np.testing.assert_allclose(fits[0].history["train_loss"], fits[1].history["train_loss"], rtol=1e-6)
    logits = jax.jit(lambda s, x: s.apply_fn({"params": s.params}, x))(fits[0].state, x)
    exact = float(per_example(logits, y).mean())
    for batch_size in (1000, 64, 7):  # one padded batch; 4 (the last padded); 36 (the last padded)
        assert evaluate(fits[0].state, (x, y), batch_size=batch_size)["loss"] == pytest.approx(
            exact, rel=1e-6
        )
    with pytest.raises(InputError, match=r"loss_fn returned values of shape \(16,\) for a batch of 32"):
        train_model(model, tx, (x, y), epochs=1, batch_size=32, loss_fn=lambda o, t: per_example(o, t)[:16])


def test_keys_either_way_and_numpy_whole_numbers_are_taken_as_jax_and_python_take_them():
    x, y = blobs(64)
    state = state_for(models.MLP((4, 2)), x)
    new = fit(state, (x, y), epochs=np.int64(2), batch_size=np.int32(16), key=jax.random.key(7))
    legacy = fit(state, (x, y), epochs=2, batch_size=16, key=jax.random.PRNGKey(7))  # the old-style key
    assert untimed(new.rows) == untimed(legacy.rows)
    again = create_train_state(models.MLP((4, 2)), optim.optimizer("sgd", 0.1), x[:1], jax.random.PRNGKey(0))
    chex.assert_trees_all_equal(state.params, again.params)  # state_for's key is jax.random.key(0)
    with pytest.raises(InputError, match="must be a JAX PRNG key"):
        fit(state, (x, y), epochs=1, batch_size=16, key=7)
    # train_model and fit take the same batch_size: None is the whole data set, one step an epoch.
    whole = train_model(models.MLP((4, 2)), optim.optimizer("sgd", 0.1), (x, y), epochs=2)
    assert whole.steps["loss"].shape == (2,)
    assert fit(state, (x, y), epochs=2, key=KEY).steps["loss"].shape == (2,)


def test_fit_changes_nothing_in_the_callers_process():
    """While fit runs (seen from on_epoch) the signal handlers and the unraisable hook are the
    caller's own, and a Ctrl-C reaches the caller's handler."""
    import signal
    import sys

    x, y = blobs(64)
    seen = []
    mine = lambda signum, frame: seen.append(signum)  # noqa: E731
    previous = signal.signal(signal.SIGINT, mine), signal.signal(signal.SIGTERM, mine)
    hook = sys.unraisablehook
    try:

        def on_epoch(epoch, state, row):
            assert signal.getsignal(signal.SIGINT) is mine and signal.getsignal(signal.SIGTERM) is mine
            assert sys.unraisablehook is hook
            signal.raise_signal(signal.SIGINT)

        fit(state_for(models.MLP((4, 2)), x), (x, y), epochs=2, batch_size=16, key=KEY, on_epoch=on_epoch)
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])
    assert seen == [signal.SIGINT, signal.SIGINT]
