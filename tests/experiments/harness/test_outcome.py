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
