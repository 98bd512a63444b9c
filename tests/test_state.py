"""The training state and the checks that a batch fits the model it was initialised for."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

from jaxnets import models, optim
from jaxnets.errors import InputError
from jaxnets.loop import fit
from jaxnets.steps import predict, train_step
from tests.helpers import blobs, state_for


def test_the_state_is_one_pytree_of_what_training_changes():
    x, _ = blobs(8)
    state = state_for(models.MLP((4, 2), batch_norm=True), x, tx=optim.optimizer("adam", 1e-3))
    assert state.example_shape == (2,) and state.input_dtype == "float32"
    # Arrays are leaves (they are traced, donated and saved); the loss, model and optimizer are not.
    names = {jax.tree_util.keystr(p)[1:].split("[")[0] for p, _ in jax.tree_util.tree_leaves_with_path(state)}
    assert names == {"step", "params", "opt_state", "batch_stats", "key"}
    chex.assert_trees_all_equal_structs(state.batch_stats, {"BatchNorm_0": {"mean": 0, "var": 0}})


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
    loss = fitted.history["train_loss"]
    assert loss.shape == (10,) and loss[-1] < 0.5 * loss[0]
    assert fitted.history["valid_accuracy"][-1] > 0.85
    assert predict(fitted.state, x[:3]).shape == (3, 2)


class _TrainingFlag(nn.Module):
    """Dropout that says which mode it ran in: outputs 0 where it dropped."""

    @nn.compact
    def __call__(self, x, training: bool):
        return nn.Dropout(0.5, deterministic=not training)(nn.Dense(64)(x))


class _DeterministicFlag(nn.Module):
    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        return nn.Dropout(0.5, deterministic=deterministic)(nn.Dense(64)(x))


class _NeedsMask(nn.Module):
    @nn.compact
    def __call__(self, x, mask):
        return nn.Dense(2)(x * mask)


@pytest.mark.parametrize("model", [_TrainingFlag(), _DeterministicFlag()], ids=["training", "deterministic"])
def test_a_train_flag_by_another_name_is_set_to_match(model):
    x, _ = blobs(8)
    state = state_for(model, x)
    dropped = lambda out: int(jnp.sum(out == 0))  # noqa: E731
    train_out = state.apply_fn({"params": state.params}, x, train=True, rngs={"dropout": jax.random.key(1)})
    assert dropped(train_out) > 100, "training: dropout on"
    assert dropped(predict(state, x)) == 0, "evaluation: dropout off"


def test_a_call_that_needs_an_argument_jaxnets_cannot_give_is_refused_in_one_line():
    x, _ = blobs(8)
    with pytest.raises(
        InputError, match=r"_NeedsMask.__call__ needs mask besides its inputs.*train, training"
    ):
        state_for(_NeedsMask(), x)


class _Noisy(nn.Module):
    """Returns what it draws from its "noise" stream and from "dropout" in training."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        nn.Dense(1)(x)
        if not train:
            return jnp.zeros((len(x), 2))
        noise = jax.random.normal(self.make_rng("noise"), (len(x),))
        drop = jax.random.normal(self.make_rng("dropout"), (len(x),))
        return jnp.stack([noise, drop], 1)


def test_extra_rng_streams_are_passed_each_with_its_own_key():
    x, _ = blobs(8)
    state = state_for(_Noisy(), x)
    with pytest.raises(InputError, match=r"RNG stream 'noise'.*rng_streams=\('dropout', 'noise'\)"):
        train_step(state, (x, jnp.zeros(8, jnp.int32)))
    same = lambda out, y: {"same_draws": jnp.mean(out[:, 0] == out[:, 1])}  # noqa: E731
    state = state_for(_Noisy(), x, rng_streams=("dropout", "noise"), metrics_fn=same)
    new, metrics = train_step(state, (x, jnp.zeros(8, jnp.int32)))
    assert float(metrics["same_draws"]) == 0.0, "the noise stream has a key of its own"
    assert np.isfinite(float(metrics["loss"])) and int(new.step) == 1
    with pytest.raises(InputError, match="rng_streams must name"):
        state_for(_Noisy(), x, rng_streams=("params",))


def test_an_optimizer_state_of_another_optimizer_or_model_is_refused_in_one_line():
    x, y = blobs(8)
    adam = state_for(models.MLP((4, 2)), x, tx=optim.optimizer("adam", 1e-2))
    wider = state_for(models.MLP((6, 2)), x, tx=optim.optimizer("adam", 1e-2))
    for bad in (adam.replace(tx=optim.optimizer("sgd", 0.1)), adam.replace(opt_state=wider.opt_state)):
        with pytest.raises(InputError, match="optimizer state is not the one its optimizer"):
            train_step(bad, (x, y))
    train_step(adam, (x, y))  # the state itself still trains


def test_a_state_starts_from_given_variables_checked_against_the_model():
    """``variables=``: the given weights (as converted from PyTorch), the optimizer's state made
    for them; a name or shape that is not the model's is refused in one line naming it."""
    from jaxnets.state import create_train_state

    model = models.MLP((8, 3), batch_norm=True)
    drawn = create_train_state(model, optax.adam(1e-3), jnp.zeros((1, 5)), jax.random.key(0))
    given = jax.tree.map(lambda a: np.full(a.shape, 0.5, np.float32), {"params": drawn.params})
    given["batch_stats"] = jax.tree.map(np.asarray, drawn.batch_stats)
    state = create_train_state(model, optax.adam(1e-3), jnp.zeros((1, 5)), jax.random.key(0), variables=given)
    chex.assert_trees_all_equal(state.params, given["params"])
    chex.assert_trees_all_equal_shapes(state.opt_state, drawn.opt_state)
    assert (
        state.step == 0
        and float(train_step(state, (jnp.ones((4, 5)), jnp.zeros(4, jnp.int32)))[1]["loss"]) > 0
    )

    wrong = {"params": {**given["params"], "Linear_0": {"bias": np.zeros(8), "kernel": np.zeros((6, 8))}}}
    wrong["batch_stats"] = given["batch_stats"]
    with pytest.raises(
        InputError, match=r"at \['params'\]\['Linear_0'\]\['kernel'\]: the model has \(5, 8\)"
    ):
        create_train_state(model, optax.adam(1e-3), jnp.zeros((1, 5)), jax.random.key(0), variables=wrong)
    with pytest.raises(InputError, match=r"batch_stats.*the given ones none"):
        create_train_state(
            model,
            optax.adam(1e-3),
            jnp.zeros((1, 5)),
            jax.random.key(0),
            variables={"params": given["params"]},
        )


def test_the_callers_variables_stay_alive_and_unchanged_after_the_state_trains():
    """``create_train_state(..., variables=v)`` then ``train_step``, which donates the state:
    ``v``'s arrays are the caller's, alive and as they were."""
    from jaxnets.state import create_train_state

    model = models.MLP((8, 2))
    x, y = blobs(16)
    v = model.init(jax.random.key(3), x[:1])
    before = jax.tree.map(np.array, v)
    state = create_train_state(model, optax.sgd(0.1), x[:1], jax.random.key(0), variables=v)
    for _ in range(2):
        state, _ = train_step(state, (x, y))
    assert not any(a.is_deleted() for a in jax.tree.leaves(v))
    chex.assert_trees_all_equal(jax.tree.map(np.asarray, v), before)
    assert not np.array_equal(
        np.asarray(state.params["Linear_0"]["kernel"]), before["params"]["Linear_0"]["kernel"]
    )


class _Counter(nn.Module):
    """A model with a variable collection of its own ("counts")."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        seen = self.variable("counts", "seen", lambda: jnp.zeros((), jnp.int32))
        seen.value += 1
        return nn.Dense(2)(x)


class _MaskAndFlag(nn.Module):
    """A call that needs an argument besides its inputs, and has a train flag too."""

    @nn.compact
    def __call__(self, x, mask, train: bool = False):
        return nn.Dense(2)(x * mask)


def test_weights_and_models_from_elsewhere_are_refused_in_one_line():
    from jaxnets.state import create_train_state

    model, x = models.MLP((8, 2)), jnp.zeros((1, 5))
    params = create_train_state(model, optax.sgd(0.1), x, jax.random.key(0)).params
    make = lambda v: create_train_state(model, optax.sgd(0.1), x, jax.random.key(0), variables=v)  # noqa: E731
    for dtype in (np.float16, np.int32):
        with pytest.raises(
            InputError, match=rf"are {np.dtype(dtype).name}, the model's float32: convert them"
        ):
            make({"params": jax.tree.map(lambda a, d=dtype: np.asarray(a).astype(d), params)})
    with pytest.raises(InputError, match="variables must be a dict of collections.*got list"):
        make([params])
    with pytest.raises(InputError, match=r"collection\(s\) 'stats', which the model does not"):
        make({"params": params, "stats": {"mean": np.zeros(3, np.float32)}})
    with pytest.raises(InputError, match=r"_Counter keeps variables in the collection\(s\) 'counts'"):
        create_train_state(_Counter(), optax.sgd(0.1), x, jax.random.key(0))
    with pytest.raises(InputError, match=r"_MaskAndFlag.__call__ needs mask besides its inputs"):
        create_train_state(_MaskAndFlag(), optax.sgd(0.1), x, jax.random.key(0))
    with pytest.raises(InputError, match=r"rng_streams names 'dropout' more than once"):
        create_train_state(model, optax.sgd(0.1), x, jax.random.key(0), rng_streams=("dropout", "dropout"))
