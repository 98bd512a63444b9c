"""A batch: (inputs, targets) or a dict naming them, and the checks that it fits the model a
state was initialised for (refused in one line, the donated state left usable)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets import models
from jaxnets.errors import InputError
from jaxnets.loop import fit
from jaxnets.steps import eval_step, predict, train_step
from tests.helpers import blobs, copy, state_for, untimed


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


def test_bad_data_is_refused_before_any_training():
    x, y = blobs(64)
    state = state_for(models.MLP((4, 2)), x)
    calls = []
    kw = dict(on_epoch=lambda *a: calls.append(a), progress=False)
    with pytest.raises(
        InputError, match=r"the labels of the training data must be class ids from 0 to 1 .*: 2"
    ):
        fit(state, (x, y.at[3].set(2)), epochs=2, batch_size=16, key=jax.random.key(0), **kw)
    for valid, message in (
        ((jnp.ones((8, 3)), y[:8]), r"the validation data: inputs of shape \(8, 3\) do not fit"),
        ((x[:8], y[:8].at[0].set(-1)), "the labels of the validation data .*-1"),
    ):
        with pytest.raises(InputError, match=message):
            fit(state, (x, y), epochs=2, batch_size=16, key=jax.random.key(0), valid=valid, **kw)
    assert calls == []
    with pytest.raises(InputError, match="at least one example"):
        train_step(state, (x[:0], y[:0]))


def test_dict_batches_with_named_keys_train_and_evaluate_as_pairs_do():
    x, y = blobs(256)
    state = state_for(models.MLP((8, 2)), x)
    as_pairs = fit(
        state, (x, y), epochs=2, batch_size=32, key=jax.random.key(0), valid=(x, y), progress=False
    )
    as_dicts = fit(
        state_for(models.MLP((8, 2)), x),
        {"image": x, "label": y},
        epochs=2,
        batch_size=32,
        key=jax.random.key(0),
        valid={"inputs": x, "targets": y},
        progress=False,
    )
    assert untimed(as_dicts.rows) == untimed(as_pairs.rows)
    evaluated = eval_step(as_dicts.state, (x, y))
    _, trained = train_step(as_dicts.state, {"x": x, "y": y})  # no dropout or BN: the same metrics
    chex.assert_trees_all_close(trained, evaluated)
    with pytest.raises(InputError, match="inputs under one of image, .* it has label, pixels"):
        eval_step(state, {"pixels": x, "label": y})
