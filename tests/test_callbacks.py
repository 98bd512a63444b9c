"""fit's callbacks: early stopping keeps the best state (each seed's), the epoch table prints."""

import numpy as np

from jaxnets import models, optim
from jaxnets.callbacks import early_stopping, epoch_table
from jaxnets.loop import fit, seeded_state
from tests.helpers import KEY, blobs, state_for


def test_early_stopping_stops_and_keeps_the_best_state():
    x, y = blobs()
    stopper = early_stopping(patience=2)
    rows = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    fitted = fit(
        state_for(models.MLP((4, 2)), x),
        (x, y),
        epochs=5,
        batch_size=64,
        key=KEY,
        on_epoch=lambda e, s, r: stopper(e, s, {"valid_loss": next(rows)}),
    ).run(0)
    assert len(fitted.rows) == 4 and stopper.best["epoch"] == 2
    # A run whose metric is nan from the start still has a best (the first) state to return.
    nan_stopper = early_stopping(patience=1)
    fit(
        state_for(models.MLP((4, 2)), x),
        (x, y),
        epochs=3,
        batch_size=64,
        key=KEY,
        on_epoch=lambda e, s, r: nan_stopper(e, s, {"valid_loss": float("nan")}),
    )
    assert nan_stopper.best["epoch"] == 1 and nan_stopper.best["state"] is not None


def test_epoch_table_prints_a_header_and_one_row_per_epoch():
    x, y = blobs()
    lines = []
    fit(
        state_for(models.MLP((8, 2)), x),
        (x, y),
        epochs=3,
        batch_size=64,
        key=KEY,
        valid=(x, y),
        on_epoch=epoch_table(print_fn=lines.append),
    )
    assert lines[0].split()[:4] == ["epoch", "train_loss", "valid_loss", "valid_accuracy"]
    assert len(lines) == 4 and lines[3].startswith("3 ")


def test_early_stopping_keeps_each_seeds_best_state():
    x, y = blobs()
    stopper = early_stopping(patience=2)
    losses_by_epoch = iter([[3.0, 1.0], [2.0, 2.0], [2.5, 3.0], [2.6, 4.0], [1.0, 5.0]])
    state, keys = seeded_state(models.MLP((4, 2)), optim.optimizer("sgd", 0.1), x[:1], seed=0, seeds=2)
    on_epoch = lambda e, s, r: stopper(e, s, {"valid_loss": np.array(next(losses_by_epoch))})  # noqa: E731
    fitted = fit(state, (x, y), epochs=5, batch_size=64, key=keys, on_epoch=on_epoch)
    assert [len(h) for h in fitted.rows] == [4, 4]
    # Seed 1 stopped improving after epoch 1, seed 0 after epoch 2: all have waited 2 at epoch 4.
    assert stopper.best["epoch"].tolist() == [2, 1] and stopper.best["value"].tolist() == [2.0, 1.0]
    assert stopper.best["state"].runs == 2
