"""The notes' small data sets, as the notes write them."""

import numpy as np
import pytest

from experiments.harness import toy_data


def test_standardize_matches_the_notes():
    x, _ = toy_data.exam_scores()
    notes = [
        [-1.0674, -0.3758, -0.8398],
        [0.7418, 0.2778, 0.5863],
        [0.3799, 0.5229, 0.3486],
        [1.0132, 1.0948, 1.1409],
        [-1.0674, -1.5197, -1.2360],
    ]
    np.testing.assert_allclose(toy_data.standardize(x), notes, atol=5e-5)


def test_logic_gates():
    x, y = toy_data.logic_gate("xor")
    assert y[:, 0].tolist() == [0, 1, 1, 0] and x.shape == (4, 2)
    assert toy_data.logic_gate("and")[1][:, 0].tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="xor"):
        toy_data.logic_gate("nand")
    with pytest.raises(ValueError, match="did you mean .xor."):
        toy_data.logic_gate("xro")


def test_threes_then_sevens_is_the_books_order():
    """Every 3 (label 1), then every 7 (label 0), each in its original order."""
    y = np.array([0, 1, 1, 0, 1, 0], np.int32)
    x = np.arange(6) * 10
    xs, ys = toy_data.threes_then_sevens((x, y))
    np.testing.assert_array_equal(ys, [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(xs, [10, 20, 40, 0, 30, 50])
