"""The contract between a lab module and the harness.

Each module of ``experiments/`` reads like the lab it reproduces, and declares in a few lines what
the harness needs: ``ID``, ``TITLE`` and ``SUMMARY`` (the catalog's), its ``Config`` (a frozen
dataclass with the notes' settings as defaults), ``QUICK`` (``--quick``'s reductions), a
``run(config, ws)`` that loads the data, builds the lab's models, trains and measures them and
returns its numbers (``outcome``), and ``NOTES``, the notes' numbers with the bars ours must meet
(``notes``); ``IDS`` where one run covers several of the catalog's ids, ``EXPECTED_DIVERGENCE``
for the runs that blow up on purpose. ``Experiment.of(module)`` reads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.harness.checks import Check
from experiments.harness.results import jsonable, slug
from jaxnets.record import Divergence


@dataclass(frozen=True)
class Workspace:
    """Where a run writes: its plots, and one checkpoint folder per training run, saved every
    ``checkpoint_every`` epochs (``checkpoints`` None: no checkpoints). The runner makes it inside
    the experiment's unfinished-run folder and publishes the plots when the run finishes."""

    plots: Path
    checkpoints: Path | None
    checkpoint_every: int = 1

    def checkpoint(self, run: str) -> dict[str, Any]:
        """``fit``'s checkpoint arguments for the training run called ``run`` (its own folder)."""
        folder = None if self.checkpoints is None else self.checkpoints / slug(run)
        return {"checkpoint_dir": folder, "checkpoint_every": self.checkpoint_every}

    def checkpoint_each(self) -> dict[str, Any]:
        """``classify.train_each``'s checkpoint arguments (a folder for each of its runs inside)."""
        return {"checkpoint_dir": self.checkpoints, "checkpoint_every": self.checkpoint_every}


@dataclass
class Outcome:
    """What ``run`` returns: the history rows (several runs tag theirs with the run's name), the
    metrics, the ours-vs-notes checks, each training run's divergence (None where it stayed
    finite) and lines to print."""

    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    checks: list[Check]
    diverged: Mapping[str, Divergence | None] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """One experiment of the catalog (``docs/experiments.md``).

    ``id`` is its catalog id, or a range ("B7-B9") when one run covers experiments the notes
    compare, whose single ids are ``ids``; ``quick`` holds the reduced settings of ``--quick``
    (and the tests); ``expected_divergence`` names the runs that blow up on purpose.
    """

    module: str
    id: str
    title: str
    description: str
    config: type
    run: Callable[[Any, Workspace], Outcome]
    ids: tuple[str, ...] = ()
    quick: Mapping[str, Any] = field(default_factory=dict)
    expected_divergence: tuple[str, ...] = ()
    notes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, module: Any) -> Experiment:
        """The experiment a lab module declares (its ``ID``, ``TITLE``, ``SUMMARY``, ``Config``,
        ``run``, ``NOTES`` and, where it has them, ``IDS``, ``QUICK``, ``EXPECTED_DIVERGENCE``)."""
        return cls(
            module.__name__,
            module.ID,
            module.TITLE,
            module.SUMMARY,
            module.Config,
            module.run,
            ids=tuple(getattr(module, "IDS", ())),
            quick=dict(getattr(module, "QUICK", {})),
            expected_divergence=tuple(getattr(module, "EXPECTED_DIVERGENCE", ())),
            notes=dict(module.NOTES),
        )

    @property
    def name(self) -> str:
        """The module's name, which is also the experiment's results folder ("weight_init")."""
        return self.module.rsplit(".", 1)[-1]


# What a run may change and still be "at the notes' settings": which random draws (the notes'
# numbers are one draw of PyTorch's generator), how many of them, where the data lives, and
# whether a diverged run stops there or trains on (its numbers up to the divergence are the same).
NOT_SETTINGS = ("seed", "seeds", "data_dir", "stop_on_divergence")


def changed_settings(experiment: Experiment, config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The settings of ``config`` (a result's saved config) that differ from the notes' (the
    experiment's ``Config`` defaults): ``{"epochs": {"ran": 1, "notes": 15}}``. A run with any
    is a run at other settings, whose checks inform but do not decide (the bars are the notes')."""
    notes = jsonable(dataclasses.asdict(experiment.config()))
    return {
        k: {"ran": config.get(k), "notes": v}
        for k, v in notes.items()
        if k not in NOT_SETTINGS and config.get(k, v) != v
    }
