"""What a run records survives its checkpoint form, and a stacked result's per-seed views give
each run's own rows, steps and divergence."""

import numpy as np

from jaxnets.record import Divergence, Record
from tests.helpers import two_runs_one_stopped


def test_a_record_round_trips_through_its_saved_form():
    record = Record(2)
    record.add({"epoch": 1, "train_loss": np.array([1.0, 2.0])}, {"loss": np.ones((2, 3))})
    record.diverged[1] = Divergence(1, 2, "loss")
    record.stopped[1] = True
    record.add({"epoch": 2, "train_loss": np.array([0.5, np.inf])}, {"loss": np.zeros((2, 3))})
    again = Record(2, record.saved())
    assert again.history == [
        [{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}],
        [{"epoch": 1, "train_loss": 2.0}],
    ]
    assert again.diverged == [None, Divergence(1, 2, "loss")] and again.stopped == [False, True]
    np.testing.assert_array_equal(again.step_arrays()["loss"], [[1, 1, 1, 0, 0, 0], [1, 1, 1, 0, 0, 0]])


def test_a_stopped_seeds_view_ends_at_its_divergence():
    fitted = two_runs_one_stopped()
    second = fitted.run(1)
    assert second.state == "state 1" and second.rows == [{"epoch": 1, "a": 3.0}]
    np.testing.assert_array_equal(second.history["a"], [3.0])  # its own epochs: no padding
    np.testing.assert_array_equal(second.steps["loss"], [6, 7, 8])  # its first epoch's three steps
    assert second.diverged == Divergence(1, 3, "loss")
    # The stacked result's columns: (runs, epochs), nan after a run stopped.
    np.testing.assert_array_equal(fitted.history["a"], [[1.0, 2.0], [3.0, np.nan]])
