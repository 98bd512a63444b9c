"""The catalog in the repository (docs/experiments.md) is the one the experiment modules write."""

from experiments import all_experiments
from experiments.harness import catalog


def test_docs_experiments_md_is_current_with_the_modules():
    assert catalog.PATH.read_text() == catalog.markdown(), (
        "docs/experiments.md is out of date: run python -m experiments.harness.catalog"
    )
    text = catalog.PATH.read_text()
    for e in all_experiments():
        assert f"## {e.id}: {e.title}" in text and f"python -m experiments.{e.name}" in text
