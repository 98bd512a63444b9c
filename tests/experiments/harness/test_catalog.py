"""The catalog in the repository (docs/experiments.md) is the one the experiment modules write."""

from experiments import all_experiments
from experiments.harness import catalog, pages


def test_docs_experiments_md_is_current_with_the_modules():
    assert catalog.PATH.read_text() == catalog.markdown(), (
        "docs/experiments.md is out of date: run python -m experiments.harness.catalog"
    )
    text = catalog.PATH.read_text()
    for e in all_experiments():
        assert f"## {e.id}: {e.title}" in text and f"python -m experiments {e.name}" in text


def test_the_labs_pages_are_current_with_the_modules():
    """docs/labs/<id>.md: each lab beside its twin, written from the modules (experiments.harness.pages)."""
    written = pages.pages()
    assert {p.name for p in pages.FOLDER.glob("*.md")} == {p.name for p in written}
    for path, text in written.items():
        assert path.read_text() == text, f"{path} is out of date: run python -m experiments.harness.pages"
    dropout = written[pages.FOLDER / "B10.md"]
    assert "class DropoutNet(nn.Module):" in dropout and "def dropout_nn(" in dropout  # ours, and the twin's


def test_a_labs_page_holds_each_fidelity_table_apart():
    """FIDELITY.md's tables at 20, 100 or 1,000 seeds below the generated one have other columns: a
    lab's page shows its rows of each under that table's own header, every row as wide as its header,
    no number twice in one table."""
    written = pages.pages()
    for path, text in written.items():
        section = text.split("## Ours beside the twin, over seeds", 1)
        if len(section) == 1:
            continue
        tables = [block.splitlines() for block in section[1].split("\n\n") if block.startswith("| id |")]
        assert tables, f"{path.name}: no table in its fidelity section"
        for table in tables:
            assert len({line.count(" | ") for line in table}) == 1, f"{path.name}: rows of other tables"
            numbers = [line.split(" | ")[1] for line in table[2:]]
            assert len(numbers) == len(set(numbers)), f"{path.name}: a number twice in one table"
    b11 = written[pages.FOLDER / "B11.md"]
    assert "more seeds of both decide it" in b11 and "ours (20 seeds)" in b11
