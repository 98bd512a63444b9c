"""The experiment contract: every module of the catalog has a well-formed record, and every id,
single id and module name finds it."""

import dataclasses
import sys

import pytest

import experiments
from experiments.harness.contract import Experiment


def test_every_module_has_a_well_formed_record():
    records = experiments.all_experiments()
    assert [e.name for e in records] == list(experiments.MODULES)
    for e in records:
        assert isinstance(e, Experiment) and e.title and e.description
        fields = {f.name for f in dataclasses.fields(e.config)}
        assert set(e.quick) <= fields, f"{e.id}: --quick sets settings its Config lacks"
        e.config()  # the notes' settings are the defaults
        assert Experiment.of(sys.modules[e.module]) == e
        assert e.notes, f"{e.id}: NOTES, the notes' numbers and bars, is empty"


@pytest.mark.parametrize("name", ["B7-B9", "b8", "B9", "weight_init", "b7_b9"])
def test_ids_single_ids_and_names_find_the_experiment(name):
    assert experiments.load(name).name == "weight_init"
