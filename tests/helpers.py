"""Small data and states shared by the engine's tests."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import optim
from jaxnets.metrics import classification_metrics
from jaxnets.state import create_train_state

KEY = jax.random.key(0)


def blobs(n=256, seed=0):
    """Two well separated 2-D classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 2)).astype(np.float32) + 3 * y[:, None]
    return jnp.asarray(x), jnp.asarray(y, jnp.int32)


def state_for(model, x, tx=None, **kw):
    return create_train_state(
        model, tx or optim.optimizer("sgd", 0.1), x[:1], KEY, metrics_fn=classification_metrics, **kw
    )


def copy(tree):
    return jax.tree_util.tree_map(jnp.array, tree)


@contextlib.contextmanager
def counting_compiles():
    """A list that grows by one for every program XLA compiles inside the ``with`` block."""
    events: list[str] = []

    def listener(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def relative(a: float, b: float) -> float:
    """|a − b| relative to |b| (the twin's number in the step-for-step tests)."""
    return abs(a - b) / max(abs(b), 1e-12)


def tree_apart(ours: dict, theirs: dict) -> float:
    """The largest difference of any array of the nested dict ``theirs`` from the same-named one
    of ``ours``, relative to the largest entry of ``theirs``'s array."""
    worst = 0.0
    for name, b in theirs.items():
        if isinstance(b, dict):
            worst = max(worst, tree_apart(ours[name], b))
        else:
            a, b = np.asarray(ours[name]), np.asarray(b)
            worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)))
    return worst
