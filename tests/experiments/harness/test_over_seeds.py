"""A fit's numbers over its seeds: each run's last value (up to its divergence), the history
with a seed column, divergences and evaluations under the runs' names."""

from experiments.harness import over_seeds
from jaxnets.record import Divergence
from tests.helpers import two_runs_one_stopped


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
