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
TORCH_SIDE = {"nocode_widgets.training", "nocode_widgets.insight.gradcam", "nocode_widgets.models.artifact",
              "nocode_widgets.models.small_cnn", "nocode_widgets.predict.pytorch"}
# Imports inside functions that reach the torch side from outside it, each the point of its module and run only
# where torch is wanted anyway.
LAZY_ALLOWED = {
    ("nocode_widgets.predict.onnx", "nocode_widgets.predict.pytorch"),  # the factory, for a run without a good export
    ("nocode_widgets.pictures.preprocess", "torch"),  # normalize_batch: the training side's half of the one definition
    ("nocode_widgets.cli.cluster_cli", "nocode_widgets.training"),  # `nocode ray check`: the CLI's own process
    ("nocode_widgets.models.zoo", "torch"), ("nocode_widgets.models.zoo", "torchvision"),  # building a model (workers)
    ("nocode_widgets.models.zoo", "nocode_widgets.models.small_cnn"),
}
# Lowest first. A module imports from its own layer and the ones below, never from a later one (the faces are
# the top: `ui/`, `cli/`, Voila hosting, and the backup, which knows runs so as to interrupt them on restore).
LAYERS = [
    {"nocode_widgets", "errors", "files", "config", "markdown", "store_files", "migrations", "store", "workspace",
     "warm_pool", "slots"},
    {"pictures"}, {"accounts"}, {"datasets"}, {"models"}, {"runs"}, {"training"}, {"predict"}, {"insight", "export", "classroom"},
    {"ui", "cli", "serve", "door", "pages", "backup", "__main__"},
]
# Imports inside functions that are not about torch: only the faces use them, to start fast (a panel is imported
# when its tab is first opened, a command's module when it runs), and the torch side, whose processes are short.
LAZY_PLACES = ("nocode_widgets.ui.", "nocode_widgets.cli.") + tuple(f"{t}." for t in TORCH_SIDE)


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
        if heavy(name):
            continue
        for target, at_top in imports(name, source, is_package):
            reached = heavy(target)
            if reached and (at_top or (name, reached) not in LAZY_ALLOWED):
                bad.add(f"{name} imports {reached}{'' if at_top else ' (inside a function)'}")
    return sorted(bad)


def package_sources() -> dict[str, tuple[str, bool]]:
    return {module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py") for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else module
    found = [i for i, names in enumerate(LAYERS) if part in names]
    assert found, f"{module}: a new package or top-level module gets a place in LAYERS (and in docs/architecture.md)"
    return found[0]


def internal_imports(sources: dict[str, tuple[str, bool]]) -> list[tuple[str, str, bool]]:
    """(importer, imported module of the package, at module level), `from pkg import name` counted as the
    module `pkg.name` when that is one, and imports under `if TYPE_CHECKING:` left out (they never run)."""
    found = []
    for name, (source, is_package) in sources.items():
        checked_lines = _type_checking_lines(source)
        for target, at_top, line in _imports_with_lines(name, source, is_package):
            if line in checked_lines or not target.startswith("nocode_widgets"):
                continue
            module = target if target in sources else target.rsplit(".", 1)[0]
            if module in sources:
                found.append((name, module, at_top))
    return found


def _type_checking_lines(source: str) -> set[int]:
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            lines |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
    return lines


def _imports_with_lines(name: str, source: str, is_package: bool):
    tree = ast.parse(source)
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target, _ in imports(name, ast.unparse(node), is_package):
                yield target, id(node) in top, node.lineno


def upward(sources) -> list[str]:
    return sorted({f"{a} imports {b}" for a, b, _ in internal_imports(sources) if layer(b) > layer(a)})


def unexplained_lazy(sources) -> list[str]:
    return sorted({f"{a} imports {b} inside a function" for a, b, at_top in internal_imports(sources)
                   if not at_top and not a.startswith(LAZY_PLACES) and not heavy(a)
                   and (a, heavy(b) or "") not in LAZY_ALLOWED})


def cycles(sources) -> list[list[str]]:
    """Every import circle among the package's modules (all imports, lazy ones too)."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in internal_imports(sources):
        if a != b and not a.startswith(b + "."):  # a package's own __init__ runs first anyway
            graph.setdefault(a, set()).add(b)
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_nothing_outside_the_torch_side_imports_torch_or_the_torch_side():
    assert violations(package_sources()) == []


def test_a_planted_lazy_import_is_caught():
    planted = {k: v for k, v in package_sources().items() if not violations({k: v})}
    planted["nocode_widgets.ui.planted"] = ("def helper():\n    from ..training.fit import fit\n    import torch\n", False)
    assert violations(planted) == ["nocode_widgets.ui.planted imports nocode_widgets.training (inside a function)",
                                   "nocode_widgets.ui.planted imports torch (inside a function)"]


def test_imports_go_only_downward_with_no_circle_and_no_unexplained_lazy_import():
    sources = package_sources()
    assert upward(sources) == []
    assert cycles(sources) == []
    assert unexplained_lazy(sources) == []


def test_an_upward_import_a_circle_and_a_hidden_lazy_import_are_caught():
    sources = package_sources()
    sources["nocode_widgets.accounts.planted"] = ("from ..runs import jobs\n", False)
    sources["nocode_widgets.runs.planted"] = ("def later():\n    from . import studies\n", False)
    sources["nocode_widgets.runs.studies"] = (sources["nocode_widgets.runs.studies"][0]
                                              + "\nfrom . import planted\n", False)
    assert upward(sources) == ["nocode_widgets.accounts.planted imports nocode_widgets.runs",
                               "nocode_widgets.accounts.planted imports nocode_widgets.runs.jobs"]
    assert ["nocode_widgets.runs.planted", "nocode_widgets.runs.studies"] in cycles(sources)
    assert unexplained_lazy(sources) == ["nocode_widgets.runs.planted imports nocode_widgets.runs inside a function",
                                         "nocode_widgets.runs.planted imports nocode_widgets.runs.studies inside a "
                                         "function"]


def test_every_module_outside_the_torch_side_imports_without_torch_in_a_fresh_interpreter():
    names = sorted(n for n in package_sources() if not heavy(n) and not n.endswith("__main__"))
    code = ("import importlib, json, sys\n"
            f"for name in {names!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_two_modules_share_a_file_name():
    """One name per concept: a file name found once in the package says where the concept lives."""
    names = [p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
