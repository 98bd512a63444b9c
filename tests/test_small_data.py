"""The notes' small data sets, as the notes write them."""

import numpy as np
import pytest

from jaxnets import small_data


def test_standardize_matches_the_notes():
    x, _ = small_data.exam_scores()
    notes = [
        [-1.0674, -0.3758, -0.8398],
        [0.7418, 0.2778, 0.5863],
        [0.3799, 0.5229, 0.3486],
        [1.0132, 1.0948, 1.1409],
        [-1.0674, -1.5197, -1.2360],
    ]
    np.testing.assert_allclose(small_data.standardize(x), notes, atol=5e-5)


def test_logic_gates():
    x, y = small_data.logic_gate("xor")
    assert y[:, 0].tolist() == [0, 1, 1, 0] and x.shape == (4, 2)
    assert small_data.logic_gate("and")[1][:, 0].tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="xor"):
        small_data.logic_gate("nand")
