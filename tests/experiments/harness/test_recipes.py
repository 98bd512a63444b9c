import jax.numpy as jnp
import numpy as np
import pytest

from experiments.harness import recipes
from jaxnets import models, optim
from jaxnets.errors import InputError
from jaxnets.train import predict


def digits_like(n, seed):
    """Ten classes of 8×8 "images": a bright pixel per class plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.uniform(0, 0.3, (n, 8, 8)).astype(np.float32)
    x.reshape(n, -1)[np.arange(n), y * 6] += 1.0
    return jnp.asarray(x), jnp.asarray(y, jnp.int32)


def test_train_classifier_learns_and_reports_held_out_accuracy():
    train, test = digits_like(2000, 0), digits_like(500, 1)
    result = recipes.train_classifier(
        models.MLP((32, 10)), optim.optimizer("adam", 1e-2), train, test, epochs=3, batch_size=100
    )
    run = result.fitted.run(0)
    assert len(run.rows) == 3
    assert run.rows[-1]["train_loss"] < run.rows[0]["train_loss"]
    assert result.held_out["accuracy"].mean > 0.9
    assert run.diverged is None


def test_get_one_and_predict_agrees_with_predict_and_saves_a_png(tmp_path):
    train, test = digits_like(1000, 0), digits_like(200, 1)
    run = recipes.train_classifier(models.MLP((10,)), optim.optimizer("adam", 1e-2), train, test, epochs=2)
    sample = recipes.get_one_and_predict(
        {"net": run.first_seed_state}, test, seed=3, out=tmp_path / "one.png"
    )
    i = sample["index"]
    assert sample["label"] == int(test[1][i])
    assert sample["predictions"]["net"] == int(jnp.argmax(predict(run.first_seed_state, test[0][i : i + 1])))
    assert (tmp_path / "one.png").stat().st_size > 1000
    assert f"#{i}" in recipes.describe(sample)
    # The same seed picks the same image; another seed (almost surely) another one.
    assert recipes.get_one_and_predict({"net": run.first_seed_state}, test, seed=3)["index"] == i
    assert recipes.get_one_and_predict({"net": run.first_seed_state}, test, seed=4)["index"] != i


def test_train_classifier_rejects_mismatched_data():
    x, y = digits_like(100, 0)
    with pytest.raises(InputError, match="same leading"):
        recipes.train_classifier(
            models.MLP((10,)), optim.optimizer("sgd", 0.1), (x, y[:50]), (x, y), epochs=1, batch_size=10
        )
