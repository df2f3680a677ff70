"""Imports go one way, by the layers of the one package map (bench.core.packages.PACKAGES; docs/architecture.md
shows it). Any import that goes up a layer, sideways between world and metrics, into devtools or reference from
the library, or that closes a cycle fails here, whether at module level or inside a function. `reference` may
import only REFERENCE_MAY_IMPORT. The map itself must name every package on disk, and the docs' block and
`augen list packages` must show it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bench.core.packages import PACKAGES, REFERENCE_MAY_IMPORT, layers

ROOT = Path(__file__).resolve().parent.parent
LAYERS = layers()


def modules(root: Path, packages=("bench", "reference")) -> dict[str, Path]:
    out = {}
    for pkg in packages:
        for p in sorted((root / pkg).rglob("*.py")):
            name = ".".join(p.relative_to(root).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = p
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (resolved to the longest known module name)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                parts = parts[: len(parts) - node.level + (path.name == "__init__.py")]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name and not (path.name == "__init__.py" and t.startswith(name + ".")):
                out.add(t)
    return out


def package(module: str) -> str:
    """bench.scoring.score -> scoring; reference.maugen.x -> reference; bench -> bench; bench.devtools.x -> devtools."""
    parts = module.split(".")
    return "reference" if parts[0] == "reference" else (parts[1] if len(parts) > 1 else "bench")


def violations(root: Path) -> list[str]:
    known = modules(root)
    graph = {m: imports(m, p, known) for m, p in known.items()}
    bad = []
    for m, targets in graph.items():
        src = package(m)
        for t in sorted(targets):
            dst = package(t)
            if src in ("devtools", "bench") or dst in (src, "bench"):  # the root package holds only a docstring
                continue
            if src == "reference":
                ok = dst in REFERENCE_MAY_IMPORT
            else:
                ok = src in LAYERS and dst in LAYERS and LAYERS[dst] < LAYERS[src]
            if not ok:
                bad.append(f"{m} imports {t} ({src} -> {dst})")
    bad += [f"cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
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
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_imports_go_one_way_and_close_no_cycle():
    assert violations(ROOT) == []


def _tree(tmp: Path, files: dict[str, str]) -> Path:
    for rel, text in {"bench/__init__.py": "", "reference/__init__.py": "", **files}.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_text(text)
    return tmp


@pytest.mark.parametrize("files, expected", [
    ({"bench/core/__init__.py": "", "bench/core/a.py": "def f():\n    from bench.scoring import b\n",
      "bench/scoring/__init__.py": "", "bench/scoring/b.py": ""}, "bench.core.a imports bench.scoring.b (core -> scoring)"),
    ({"bench/world/__init__.py": "", "bench/world/a.py": "from bench.metrics import m\n",
      "bench/metrics/__init__.py": "", "bench/metrics/m.py": ""}, "(world -> metrics)"),
    ({"bench/scoring/__init__.py": "", "bench/scoring/a.py": "from bench.devtools import envcheck\n",
      "bench/devtools/__init__.py": "", "bench/devtools/envcheck.py": ""}, "(scoring -> devtools)"),
    ({"reference/x.py": "from bench.scoring import s\n", "bench/scoring/__init__.py": "", "bench/scoring/s.py": ""},
     "(reference -> scoring)"),
    ({"bench/data/__init__.py": "", "bench/data/a.py": "from bench.data import b\n",
      "bench/data/b.py": "def g():\n    from bench.data.a import x\n"}, "cycle: bench.data.a <-> bench.data.b"),
])
def test_the_layer_check_catches_each_kind_of_violation(tmp_path, files, expected):
    found = violations(_tree(tmp_path, files))
    assert any(expected in v for v in found), found


def test_the_package_map_names_every_package_on_disk():
    on_disk = {p.parent.name for p in (ROOT / "bench").glob("*/__init__.py")}
    assert on_disk == {p.name for p in PACKAGES}


def test_docs_and_the_cli_show_the_package_map(capsys):
    from bench.cli import main
    from bench.devtools.markers import blocks_in
    from bench.devtools.packagemap import BLOCK, DOC, rendered

    text = (ROOT / DOC).read_text(encoding="utf-8")
    assert [b[0] for b in blocks_in(text, DOC, known=(BLOCK,))] == [BLOCK]
    assert rendered(text)[1] is False, "run `python -m bench.devtools.packagemap`"
    assert main(["list", "packages"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in out] == [p.name for p in sorted(PACKAGES, key=lambda p: (p.layer is None,
                                                                                                 p.layer or 0))]
