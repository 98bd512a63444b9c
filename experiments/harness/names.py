"""How many of the project's own names a reader of a lab module must look up: every name imported
from ``jaxnets``, ``experiments`` or ``twins`` and used (a function, a class, a constant), and for
an imported module each of its names the code takes (``data.load_float``), counted once each.
JAX's, Flax's, Optax's, NumPy's and PyTorch's names are not counted: a reader knows them or reads
their documentation.

    python -m experiments.harness.names        # one line per lab, ours beside its twin, then median and max
"""

from __future__ import annotations

import ast
import importlib.util
import statistics
import sys
from pathlib import Path

import experiments
import twins

PROJECT = ("jaxnets", "experiments", "twins")
ROOT = Path(__file__).parents[2]


def project_names(path: Path) -> list[str]:
    """The project names the module at ``path`` uses, each once, sorted."""
    tree = ast.parse(path.read_text())
    imported: dict[str, str] = {}  # local name -> qualified name
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROJECT:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    imported[alias.asname or alias.name.split(".")[0]] = alias.name
    used: set[str] = set()
    attributes = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in imported:
            qualified = imported[node.value.id]
            used.add(f"{qualified}.{node.attr}" if _is_module(qualified) else qualified)
        elif isinstance(node, ast.Name) and node.id in imported and id(node) not in attributes:
            used.add(imported[node.id])
    return sorted(used)


def _is_module(qualified: str) -> bool:
    try:
        return importlib.util.find_spec(qualified) is not None
    except (ImportError, ValueError):
        return False


def counts() -> list[tuple[str, int, int | None]]:
    """(lab module, our count, its twin's count or None) for every lab, in catalog order."""
    rows = []
    for module in experiments.MODULES:
        twin = ROOT / "twins" / f"{module}.py"
        theirs = len(project_names(twin)) if module in twins.modules() else None
        rows.append((module, len(project_names(ROOT / "experiments" / f"{module}.py")), theirs))
    return rows


def main(argv: list[str] | None = None) -> int:
    rows = counts()
    verbose = "-v" in (sys.argv[1:] if argv is None else argv)
    print(f"{'lab module':<20} {'experiments/':>12} {'twins/':>7}")
    for module, ours, theirs in rows:
        print(f"{module:<20} {ours:>12} {'-' if theirs is None else theirs:>7}")
        if verbose:
            print("    " + ", ".join(project_names(ROOT / "experiments" / f"{module}.py")))
    ours = [r[1] for r in rows]
    theirs = [r[2] for r in rows if r[2] is not None]
    print(f"{'median':<20} {statistics.median(ours):>12g} {statistics.median(theirs):>7g}")
    print(f"{'max':<20} {max(ours):>12} {max(theirs):>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
