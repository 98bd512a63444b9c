"""The training state and the checks that a batch fits the model it was initialised for."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets import models, optim
from jaxnets.errors import InputError
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
