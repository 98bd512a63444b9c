"""The training state and the checks that a batch fits the model it was initialised for."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from jaxnets import models, optim
from jaxnets.errors import InputError
from jaxnets.loop import fit
from jaxnets.steps import eval_step, predict, train_step
from tests.helpers import blobs, copy, state_for


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


def test_the_state_is_one_pytree_of_what_training_changes():
    x, _ = blobs(8)
    state = state_for(models.MLP((4, 2), batch_norm=True), x, tx=optim.optimizer("adam", 1e-3))
    assert state.example_shape == (2,) and state.input_dtype == "float32"
    # Arrays are leaves (they are traced, donated and saved); the loss, model and optimizer are not.
    names = {jax.tree_util.keystr(p)[1:].split("[")[0] for p, _ in jax.tree_util.tree_leaves_with_path(state)}
    assert names == {"step", "params", "opt_state", "batch_stats", "key"}
    chex.assert_trees_all_equal_structs(state.batch_stats, {"BatchNorm_0": {"mean": 0, "var": 0}})


def test_bad_data_is_refused_before_any_training():
    x, y = blobs(64)
    state = state_for(models.MLP((4, 2)), x)
    calls = []
    kw = dict(on_epoch=lambda *a: calls.append(a), progress=False)
    with pytest.raises(
        InputError, match=r"the labels of the training data must be class ids from 0 to 1 .*: 2"
    ):
        fit(state, (x, y.at[3].set(2)), epochs=2, batch_size=16, key=jax.random.key(0), **kw)
    with pytest.raises(InputError, match=r"the validation data: inputs of shape \(8, 3\) do not fit"):
        fit(
            state,
            (x, y),
            epochs=2,
            batch_size=16,
            key=jax.random.key(0),
            valid=(jnp.ones((8, 3)), y[:8]),
            **kw,
        )
    with pytest.raises(InputError, match="the labels of the validation data .*-1"):
        fit(
            state,
            (x, y),
            epochs=2,
            batch_size=16,
            key=jax.random.key(0),
            valid=(x[:8], y[:8].at[0].set(-1)),
            **kw,
        )
    assert calls == []
    with pytest.raises(InputError, match="at least one example"):
        train_step(state, (x[:0], y[:0]))


def test_batch_norm_refuses_to_train_on_a_batch_of_one():
    x, y = blobs(64)
    state = state_for(models.MLP((4, 2), batch_norm=True), x)
    with pytest.raises(InputError, match="BatchNorm .*batch of one .*at least 2"):
        train_step(state, (x[:1], y[:1]))
    with pytest.raises(InputError, match="BatchNorm .*batch of one"):
        fit(state, (x, y), epochs=1, batch_size=1, key=jax.random.key(0), progress=False)
    predict(state, x[:1])  # evaluation of one example uses the running averages: fine


class _NoTrainFlag(nn.Module):
    """A module written without the ``train`` argument (no BatchNorm, no Dropout)."""

    @nn.compact
    def __call__(self, x):
        return nn.Dense(2)(nn.relu(nn.Dense(8)(x)))


def test_a_module_without_a_train_argument_trains_and_evaluates():
    x, y = blobs(256)
    state = state_for(_NoTrainFlag(), x, tx=optim.optimizer("adam", 1e-2))
    fitted = fit(state, (x, y), epochs=10, batch_size=32, key=jax.random.key(0), valid=(x, y), progress=False)
    assert len(fitted.history) == 1, "one run: one history"
    fitted = fitted.run(0)
    assert fitted.history[-1]["train_loss"] < 0.5 * fitted.history[0]["train_loss"]
    assert fitted.history[-1]["valid_accuracy"] > 0.85
    assert predict(fitted.state, x[:3]).shape == (3, 2)
