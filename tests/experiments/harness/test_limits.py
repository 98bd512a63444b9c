"""Every setting of every experiment has one rule for its values (``limits``), which the notes'
defaults and ``--quick``'s reductions meet, and which a config handed to the runner meets too."""

import dataclasses

import pytest

import experiments
from experiments.harness import limits, runner
from jaxnets.errors import InputError


@pytest.mark.parametrize("experiment", experiments.all_experiments(), ids=lambda e: e.id)
def test_every_setting_has_a_rule_that_its_defaults_and_quick_values_meet(experiment):
    fields = [f.name for f in dataclasses.fields(experiment.config)]
    assert [n for n in fields if n not in limits.RULES] == [], f"declare their rules in {limits.__name__}"
    limits.check(experiment, experiment.config())
    limits.check(experiment, dataclasses.replace(experiment.config(), **experiment.quick))


@pytest.mark.parametrize(
    ("experiment", "setting", "message"),
    [
        ("A1", {"lr": 0.0}, "A1's lr must be > 0 and finite, got 0.0"),
        ("A1", {"k": 101}, "A1's k must be from 0 to n (100), got 101"),
        ("A1", {"epochs": "3"}, "A1's epochs must be from 1 to 10000000"),  # a type the annotation is not
        ("A3", {"lrs": ()}, "A3's lrs must be one or more values, each > 0 and finite, got ()"),
    ],
)
def test_the_runner_refuses_a_config_outside_the_rules_before_writing(tmp_path, experiment, setting, message):
    """The Python API: ``run_experiment(EXPERIMENT, Config(...))`` meets the rules of the command line."""
    e = experiments.load(experiment)
    with pytest.raises(InputError) as error:
        runner.run_experiment(e, e.config(**setting), tmp_path)
    assert str(error.value).startswith(message)
    assert not any(tmp_path.iterdir())
