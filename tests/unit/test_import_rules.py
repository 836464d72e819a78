"""Imports go downward and page kernels stay torch-free (issue: a layout that shows the architecture). Every
module outside the torch side is checked twice: statically, over every import in its source (also the ones
inside functions, so a new lazy import cannot slip past), and by importing it in a fresh interpreter."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "nocode_widgets"
HEAVY = ("torch", "torchvision")
# The torch side: what worker and helper processes run. Nothing else may import these.
TORCH_SIDE = {"nocode_widgets.gradcam", "nocode_widgets.model_torch", "nocode_widgets.predict_torch",
              "nocode_widgets.small_cnn", "nocode_widgets.training.augment", "nocode_widgets.training.data",
              "nocode_widgets.training.engine", "nocode_widgets.training.estimate", "nocode_widgets.training.fit",
              "nocode_widgets.training.losses", "nocode_widgets.training.optimizers", "nocode_widgets.training.review",
              "nocode_widgets.training.worker", "nocode_widgets.training.on_ray"}
# Imports inside functions that are the point of their module, each run only where torch is wanted anyway.
LAZY_ALLOWED = {
    ("nocode_widgets.predict", "nocode_widgets.predict_torch"),  # the factory, for a run without a good export
    ("nocode_widgets.preprocess", "torch"),  # normalize_batch: the training side's half of the one definition
    ("nocode_widgets.training.facts", "torch"),  # `probe`: run in the device probe's own process
    ("nocode_widgets.training.facts", "nocode_widgets.training.fit"),
    ("nocode_widgets.cli.cluster", "nocode_widgets.training.on_ray"),  # `nocode ray check`: the CLI's own process
    ("nocode_widgets.zoo", "torch"), ("nocode_widgets.zoo", "torchvision"),  # building a model (workers)
    ("nocode_widgets.zoo", "nocode_widgets.small_cnn"),
}


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    return ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)


def imports(name: str, source: str, is_package: bool) -> list[tuple[str, bool]]:
    """(imported module, whether at module level) for every import in `source`."""
    tree = ast.parse(source)
    top = {id(n) for n in tree.body}  # one tree: ids of nodes are only comparable while they are alive
    found = []
    for node in ast.walk(tree):
        at_top = id(node) in top
        if isinstance(node, ast.Import):
            found += [(a.name, at_top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = name if is_package else name.rsplit(".", 1)[0]
            for _ in range(node.level - 1):
                base = base.rsplit(".", 1)[0]
            target = node.module if not node.level else ".".join(filter(None, [base, node.module]))
            found.append((target, at_top))
            found += [(f"{target}.{a.name}", at_top) for a in node.names]  # `from . import x` names modules too
    return found


def heavy(target: str) -> str | None:
    """The heavy thing an import reaches: torch or torchvision, or the torch-side module it is (or is in)."""
    if target.split(".")[0] in HEAVY:
        return target.split(".")[0]
    return next((t for t in TORCH_SIDE if target == t or target.startswith(t + ".")), None)


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Every import by a module outside the torch side of torch, torchvision or the torch side."""
    bad = set()
    for name, (source, is_package) in sources.items():
        if name in TORCH_SIDE:
            continue
        for target, at_top in imports(name, source, is_package):
            reached = heavy(target)
            if reached and (at_top or (name, reached) not in LAZY_ALLOWED):
                bad.add(f"{name} imports {reached}{'' if at_top else ' (inside a function)'}")
    return sorted(bad)


def package_sources() -> dict[str, tuple[str, bool]]:
    return {module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py") for p in PACKAGE.rglob("*.py")}


def test_nothing_outside_the_torch_side_imports_torch_or_the_torch_side():
    assert violations(package_sources()) == []


def test_a_planted_lazy_import_is_caught():
    planted = {k: v for k, v in package_sources().items() if not violations({k: v})}
    planted["nocode_widgets.ui.planted"] = ("def helper():\n    from ..training.fit import fit\n    import torch\n", False)
    assert violations(planted) == ["nocode_widgets.ui.planted imports nocode_widgets.training.fit (inside a function)",
                                   "nocode_widgets.ui.planted imports torch (inside a function)"]


def test_every_module_outside_the_torch_side_imports_without_torch_in_a_fresh_interpreter():
    names = sorted(n for n in package_sources() if n not in TORCH_SIDE and not n.endswith("__main__"))
    code = ("import importlib, json, sys\n"
            f"for name in {names!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
