"""The streaming path: batches read on the host by Grain give the on-device path's numbers, are
chosen where the data would not fit, resume bit for bit with the reader's position saved, and bad
input is refused with what to do."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from jaxnets import checkpoint, losses, models, parallel, stream, train
from jaxnets.errors import InputError
from tests.helpers import four_classes, interrupt_at_epoch_2


def _state(model=None, tx=None):
    x, _ = four_classes()
    model = model or models.MLP((32, 32, 4), batch_norm=True, dropout=0.3)
    return train.create_train_state(
        model,
        tx or optax.adam(1e-2),
        x[:1],
        jax.random.key(1),
        loss_fn=losses.cross_entropy,
        metrics_fn=train.classification_metrics,
    )


def _fit(state, train_data, **kwargs):
    x, y = four_classes()
    return train.fit(
        state,
        train_data,
        epochs=3,
        batch_size=64,
        key=jax.random.key(2),
        valid=(x, y),
        progress=False,
        **kwargs,
    )


def test_streamed_batches_give_the_on_device_numbers():
    x, y = map(np.asarray, four_classes())
    on_device = _fit(_state(), (x, y))
    for streamed in (_fit(_state(), (x, y), stream=True), _fit(_state(), stream.ArraySource(x, y))):
        assert streamed.data_path.startswith("streamed") and on_device.data_path.startswith("on device")
        np.testing.assert_allclose(streamed.steps["loss"], on_device.steps["loss"], rtol=1e-6)
        strip = [
            [{k: v for k, v in r.items() if k != "time_s"} for r in f.rows] for f in (streamed, on_device)
        ]
        np.testing.assert_allclose(
            [list(r.values()) for r in strip[0]], [list(r.values()) for r in strip[1]], rtol=1e-6
        )
    assert on_device.history["train_loss"][-1] < on_device.history["train_loss"][0]


def test_data_too_large_for_the_device_is_streamed(monkeypatch):
    x, y = map(np.asarray, four_classes())
    mesh = parallel.data_mesh()
    assert not stream.choose((x, y), None, mesh)[0]
    monkeypatch.setattr(
        stream, "device_memory", lambda mesh: (x.nbytes, "a small device")
    )  # x alone fills it
    streamed, why = stream.choose((x, y), None, mesh)
    assert streamed and "would take 1" in why and "a small device" in why
    assert _fit(_state(), (x, y)).data_path == why


def test_a_streamed_run_resumes_bit_for_bit_with_the_readers_position(tmp_path):
    x, y = map(np.asarray, four_classes())
    source = stream.ArraySource(x, y)
    with pytest.raises(KeyboardInterrupt):
        _fit(_state(), source, checkpoint_dir=tmp_path, on_epoch=interrupt_at_epoch_2)
    assert checkpoint.latest_epoch(tmp_path) == 1
    saver = checkpoint.Checkpointer(tmp_path, {})
    with saver:
        meta = saver.manager.restore(
            1, args=checkpoint.ocp.args.Composite(meta=checkpoint.ocp.args.JsonRestore())
        )
    assert meta.meta["reader"]["epoch"] == 1 and meta.meta["reader"]["position"], (
        "the reader's position is saved"
    )
    resumed, straight = _fit(_state(), source, checkpoint_dir=tmp_path), _fit(_state(), source)
    for a, b in zip(
        jax.tree.leaves(resumed.state.params), jax.tree.leaves(straight.state.params), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(resumed.history["valid_loss"], straight.history["valid_loss"])


def test_bad_streaming_input_says_what_to_do():
    x, y = map(np.asarray, four_classes())
    with pytest.raises(InputError, match="train the seeds one at a time"):
        state, keys = train.seeded_state(models.MLP((8, 4)), optax.sgd(0.1), x[:1], seed=0, seeds=2)
        train.fit(state, stream.ArraySource(x, y), epochs=1, batch_size=64, key=keys)
    with pytest.raises(InputError, match="stream=False puts the data set on the devices"):
        _fit(_state(), stream.ArraySource(x, y), stream=False)
    with pytest.raises(InputError, match="a Source"):
        _fit(_state(), x)  # inputs without targets
    with pytest.raises(InputError, match=r"inputs of shape \(2, 5\) do not fit the model"):
        _fit(_state(), stream.ArraySource(x[:, :5], y))


class _Rows:
    """A Source whose labels (or row count) can be wrong: what a reader of files may return."""

    def __init__(self, x, y, drop: int = 0):
        self.x, self.y, self.drop = x, y, drop

    def __len__(self):
        return len(self.x)

    def __getitem__(self, rows):
        return self.x[rows][self.drop :], self.y[rows][self.drop :]


@pytest.mark.parametrize("label", [-1, 4])
def test_a_streamed_label_out_of_range_is_refused_mid_epoch_in_one_line(label):
    x, y = map(np.asarray, four_classes())
    bad = y.copy()
    bad[len(y) // 2] = label  # a row the two-row sample before training does not read
    with pytest.raises(
        InputError, match=rf"labels the data source returned must be class ids from 0 to 3.*: {label}"
    ):
        _fit(_state(), _Rows(x, bad))
    with pytest.raises(InputError, match="labels the data source returned"):  # a validation source too
        train.fit(_state(), (x, y), epochs=1, batch_size=64, key=jax.random.key(2), valid=_Rows(x, bad))


def test_a_source_that_returns_fewer_rows_or_unequal_lengths_is_refused():
    x, y = map(np.asarray, four_classes())
    with pytest.raises(InputError, match="returned 1 inputs and 1 targets for 2 rows"):
        _fit(_state(), _Rows(x, y, drop=1))
    with pytest.raises(InputError, match=f"got {len(x)} inputs and {len(y) - 1} targets"):
        stream.ArraySource(x, y[:-1])
    short_labels = _Rows(x, y[: len(y) // 2])  # a reader whose label file ends early
    with pytest.raises(InputError, match=f"could not read rows up to .* of the {len(x)} its len"):
        _fit(_state(), short_labels)
