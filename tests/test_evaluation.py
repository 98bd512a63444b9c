"""Evaluation over a whole data set (``jaxnets.evaluation``): exact means, the last batch padded
and masked in one compiled program per model, one value per seed for a stacked state."""

import numpy as np
import optax
import pytest

from jaxnets import models, optim
from jaxnets.evaluation import evaluate
from jaxnets.loop import fit, seeded_state
from jaxnets.metrics import classification_metrics
from tests.helpers import blobs, counting_compiles, state_for


def test_evaluate_gives_one_value_per_seed_and_run_k_is_seed_k():
    x, y = blobs(128)
    state, keys = seeded_state(
        models.MLP((8, 2)),
        optim.optimizer("sgd", 0.1),
        x[:1],
        seed=3,
        seeds=3,
        metrics_fn=classification_metrics,
    )
    fitted = fit(state, (x, y), epochs=2, batch_size=32, key=keys, progress=False)
    accuracy = evaluate(fitted.state, (x, y))["accuracy"]  # one value per seed (the run-axis rule)
    assert accuracy.shape == (3,) and all(0.0 <= a <= 1.0 for a in accuracy)
    assert evaluate(fitted.state.run(1), (x, y))["accuracy"] == accuracy[1]


def test_any_data_size_is_one_compiled_program_with_exact_means():
    """Data sets of 250, 7 and 1000 rows in batches of 100: the last batch padded and masked, so
    the batch program compiles once; each mean is the one over every example, exactly."""
    x, y = map(np.asarray, blobs(1000))  # (slices of host arrays compile nothing)
    state = state_for(models.MLP((8, 2)), x, tx=optim.optimizer("sgd", 0.1))
    per_example = {n: evaluate(state, (x[:n], y[:n]), batch_size=n) for n in (250, 7)}  # one batch each
    with counting_compiles() as compiled:
        evaluate(state, (x[:250], y[:250]), batch_size=100)
        first = len(compiled)
        for n in (7, 1000, 250):
            got = evaluate(state, (x[:n], y[:n]), batch_size=100)
            if n in per_example:
                assert got["loss"] == pytest.approx(per_example[n]["loss"], rel=1e-6)
                assert got["accuracy"] == per_example[n]["accuracy"]
    assert len(compiled) - first <= 2, "only the rows' gather of new data shapes, not the model's program"
    # A loss that gives the batch's number (a scalar) is taken batch by batch, weighted by sizes.
    mean_state = state.replace(
        loss_fn=lambda o, t: optax.softmax_cross_entropy_with_integer_labels(o, t).mean()
    )
    np.testing.assert_allclose(
        evaluate(mean_state, (x[:250], y[:250]), batch_size=100)["loss"], per_example[250]["loss"], rtol=1e-6
    )
