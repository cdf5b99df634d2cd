"""The package's layout rules, read from the source: imports, cycles, the public API.

Each rule is checked on the real tree, and the checker itself is checked on
a small made-up tree that breaks every rule, so that a rule that can no
longer fail would show.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import dcmnode

PACKAGE = Path(dcmnode.__file__).resolve().parent

# (importing area, forbidden area): an area is a module or a package prefix.
FORBIDDEN = [
    (area, target)
    for area in ("dcmnode.network", "dcmnode.store", "dcmnode.runners")
    for target in ("dcmnode.node", "dcmnode.pipeline")
] + [
    (area, target)
    for area in ("dcmnode.dicom", "dcmnode.grinders")
    for target in ("dcmnode.network", "dcmnode.store", "dcmnode.node")
]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every module of the package at *root*."""
    return {module_name(root, p): p for p in sorted(root.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """``(imported module, line)`` for every import of the package in *path*, wherever it is.

    Imports inside functions and ``if TYPE_CHECKING:`` blocks count too: a
    cycle hidden that way is still a cycle.
    """
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if candidate in known:
                    yield candidate, node.lineno
                elif base in known:
                    yield base, node.lineno


def graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module: line} for the package at *root*."""
    found = modules(root)
    known = set(found)
    return {name: dict(imports(name, path, known)) for name, path in found.items()}


def within(module: str, area: str) -> bool:
    return module == area or module.startswith(area + ".")


def forbidden_imports(edges: dict[str, dict[str, int]]) -> list[str]:
    return [
        f"{source}:{line} imports {target}"
        for source, targets in edges.items()
        for target, line in targets.items()
        for area, banned in FORBIDDEN
        if within(source, area) and within(target, banned)
    ]


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def type_checking_blocks(root: Path, allowed: set[str]) -> list[str]:
    return [
        f"{module_name(root, path)}:{node.lineno}"
        for path in sorted(root.rglob("*.py"))
        if module_name(root, path) not in allowed
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
    ]


def store_type_checks(root: Path) -> list[str]:
    """``isinstance(x, MemoryStore | DiskStore)`` outside the store package."""
    return [
        f"{module_name(root, path)}:{node.lineno}"
        for path in sorted(root.rglob("*.py"))
        if not within(module_name(root, path), f"{root.name}.store")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) == "isinstance"
        and any(name in ast.unparse(node) for name in ("MemoryStore", "DiskStore"))
    ]


# -- the rules, on the real package --------------------------------------------------


def test_layers_never_import_upwards() -> None:
    assert forbidden_imports(graph(PACKAGE)) == []


def test_no_import_cycles() -> None:
    assert cycles(graph(PACKAGE)) == []


def test_no_type_checking_imports_except_the_lazy_root() -> None:
    # dcmnode/__init__.py loads its public names on first use and names them
    # for type checkers there; no other module may hide an import that way.
    assert type_checking_blocks(PACKAGE, allowed={"dcmnode"}) == []


def test_the_package_never_imports_from_its_own_root() -> None:
    # The root re-exports everything; importing from it inside the package
    # would tie every module to every other one.
    edges = graph(PACKAGE)
    assert [name for name, targets in edges.items() if "dcmnode" in targets] == []


def test_no_isinstance_on_concrete_stores_outside_the_store() -> None:
    assert store_type_checks(PACKAGE) == []


def test_the_scp_loads_none_of_the_engine() -> None:
    code = (
        "import json, sys\n"
        "import dcmnode.network.scp\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('dcmnode'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = json.loads(result.stdout)
    engine = ("dcmnode.node", "dcmnode.pipeline", "dcmnode.store", "dcmnode.runners")
    assert [m for m in loaded if any(within(m, area) for area in engine)] == []
    assert "dcmnode.network.scp" in loaded


PUBLIC = {
    "dcmnode": [
        "Address", "ConfigError", "DcmnodeError", "DicomOutput", "ExportError", "FileOutput",
        "Input", "Job", "NetworkError", "NoOutput", "Node", "Output", "Pipeline",
        "PipelineError", "Sender",
    ],
    "dcmnode.runners": [
        "DaskRunner", "ProcessRunner", "QueueRunner", "Runner", "RunnerHooks", "RunnerStats",
        "ThreadRunner",
    ],
    "dcmnode.grinders": [
        "NiftiGrinder", "TagsGrinder", "Volume", "VolumeError", "VolumeGrinder", "compose",
    ],
    "dcmnode.dicom": [
        "Crosswalk", "Measurement", "Segment", "anonymize", "derived_series",
        "encapsulated_pdf", "measurement_report", "pdf_report", "secondary_capture",
        "segmentation",
    ],
    "dcmnode.testing": ["JobRecorder", "RecordingSCP", "ct_series", "running", "series"],
    "dcmnode.events": ["EventBus", "Event", "JOB_FAILED", "NAMES"],
    "dcmnode.store": ["DiskStore", "Instance", "MemoryStore", "Sender", "Store"],
    "dcmnode.cli": ["main"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_the_public_api_imports_from_where_the_readme_says(module: str) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(loaded, name)]
    assert missing == []
    exported = getattr(loaded, "__all__", None)
    if exported is not None:
        assert [name for name in exported if not hasattr(loaded, name)] == []


# -- the checker, on a tree that breaks every rule ------------------------------------


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "dcmnode"


def test_the_checker_finds_what_the_rules_forbid(tmp_path: Path) -> None:
    package = write_tree(
        tmp_path,
        {
            "dcmnode/__init__.py": "",
            "dcmnode/pipeline.py": "from dcmnode.store import memory\n",
            "dcmnode/node/__init__.py": "",
            "dcmnode/store/__init__.py": "",
            "dcmnode/store/memory.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from dcmnode.pipeline import Pipeline\n"
            ),
            "dcmnode/network/__init__.py": "",
            "dcmnode/network/scp.py": "def late():\n    from ..node import Node\n",
            "dcmnode/dicom/__init__.py": "from dcmnode.network import scp\n",
            "dcmnode/receive.py": "def f(s):\n    return isinstance(s, DiskStore)\n",
        },
    )
    edges = graph(package)
    assert sorted(forbidden_imports(edges)) == [
        "dcmnode.dicom:1 imports dcmnode.network.scp",
        "dcmnode.network.scp:2 imports dcmnode.node",
        "dcmnode.store.memory:3 imports dcmnode.pipeline",
    ]
    assert cycles(edges) == [["dcmnode.pipeline", "dcmnode.store.memory"]]
    assert type_checking_blocks(package, allowed={"dcmnode"}) == ["dcmnode.store.memory:2"]
    assert store_type_checks(package) == ["dcmnode.receive:2"]
