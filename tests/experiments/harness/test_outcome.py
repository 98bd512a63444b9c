"""What a lab's run returns, as its result records it (``harness.outcome``): floats of a lab with
seeds become distributions over them by the run-axis rule; everything else stays as it is."""

import numpy as np

from experiments.harness.outcome import measured
from experiments.harness.stats import Dist


def test_floats_of_a_lab_with_seeds_are_distributions_by_the_run_axis_rule():
    one = {"accuracy": 0.97, "curve": np.array([3.0, 2.0]), "steps": 40, "solved": True, "name": "x"}
    assert measured(one, seeds=1) == {
        "accuracy": Dist((0.97,)),
        "curve": [Dist((3.0,)), Dist((2.0,))],
        "steps": 40,
        "solved": True,
        "name": "x",
    }
    three = {"accuracy": np.array([0.9, 0.95, 1.0]), "curve": np.array([[3.0, 2.0], [4.0, 1.0], [5.0, 0.5]])}
    assert measured(three, seeds=3) == {
        "accuracy": Dist((0.9, 0.95, 1.0)),
        "curve": [Dist((3.0, 4.0, 5.0)), Dist((2.0, 1.0, 0.5))],  # one per epoch, over the seeds
    }
    assert measured({"predictions": np.array([0, 1, 1, 0])}, seeds=3) == {"predictions": [0, 1, 1, 0]}


def test_a_lab_without_seeds_keeps_its_numbers_as_numbers():
    assert measured({"theta": np.float32(0.25), "path": np.array([0.5, 0.25])}, seeds=None) == {
        "theta": 0.25,
        "path": [0.5, 0.25],
    }


def test_get_one_and_predict_draws_one_test_image_by_seed_and_each_models_class(tmp_path):
    import jax.numpy as jnp

    from experiments import dropout
    from experiments.harness.contract import Experiment
    from experiments.harness.outcome import get_one_and_predict, outcome
    from jaxnets import models, optim
    from jaxnets.train import classification_metrics, predict, train_model
    from tests.helpers import blobs

    x, y = blobs(200)
    x = jnp.repeat(x[:, :, None], 2, axis=2)  # "images" of 2 × 2
    fit = train_model(
        models.MLP((4, 2)), optim.optimizer("sgd", 0.1), (x, y), epochs=1, metrics_fn=classification_metrics
    )
    sample = get_one_and_predict((x, y), {"net": fit}, seed=3)
    i = sample["index"]
    assert sample["label"] == int(y[i]) and sample["predictions"]["net"] == int(
        jnp.argmax(predict(fit.state, x[i : i + 1]))
    )
    assert get_one_and_predict((x, y), {"net": fit}, seed=3)["index"] == i  # the same seed, the same image
    done = outcome(Experiment.of(dropout), dropout.Config(), {"get_one_and_predict": sample}, tmp_path)
    assert done.metrics["get_one_and_predict"] == {
        "index": i,
        "label": sample["label"],
        "predictions": sample["predictions"],
        "plot": "get_one_and_predict.png",
    }
    assert (tmp_path / "get_one_and_predict.png").stat().st_size > 1000 and f"#{i}" in done.log[0]
