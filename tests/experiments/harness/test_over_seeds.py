"""A fit's numbers over its seeds: each run's last value (up to its divergence), the history
with a seed column, divergences and evaluations under the runs' names."""

from experiments.harness import over_seeds
from jaxnets import models, optim
from jaxnets.loop import fit, seeded_state
from jaxnets.metrics import classification_metrics
from jaxnets.record import Divergence
from tests.helpers import blobs, two_runs_one_stopped


def test_a_stacked_results_numbers_are_distributions_over_its_seeds():
    fitted = two_runs_one_stopped()
    assert over_seeds.last(fitted, "a").values == (2.0, 3.0)
    assert over_seeds.first(fitted, "a").values == (1.0, 3.0)
    assert over_seeds.rows(fitted, 5)[-1] == {"seed": 6, "epoch": 1, "a": 3.0}
    assert over_seeds.divergences(fitted, "raw", 5) == {
        "raw (seed 5)": None,
        "raw (seed 6)": Divergence(1, 3, "loss"),
    }
    assert over_seeds.run_name("raw", 6, 2) == "raw (seed 6)" and over_seeds.run_name("raw", 6, 1) == "raw"


def test_evaluate_gives_one_value_per_seed():
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
    accuracy = over_seeds.evaluate(fitted, (x, y))["accuracy"]
    assert accuracy.n == 3 and all(0.0 <= a <= 1.0 for a in accuracy.values)
    assert over_seeds.evaluate(fitted.state.run(1), (x, y))["accuracy"].values == (accuracy.values[1],)
