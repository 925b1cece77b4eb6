"""Imports run one way (docs/architecture.md): read from the source with `ast`, no module imported.

Every import counts: at module level, inside functions (lazy imports), under `try`. A module may import
modules of its own layer or of layers below it; layers on the same level (deployments, batch_jobs, train_jobs)
do not import each other. No import cycle among first-party modules, whatever their layers.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Bottom to top: each entry one level; a level may hold layers that must not import each other.
# A module's layer is the longest prefix of its dotted name listed here.
LEVELS: tuple[tuple[str, ...], ...] = (
    ("adgenesis",),  # the runtime's core: settings, protocol, schema, paths, errors, ray_compat, ...
    ("adgenesis.engines",),  # models and the design pipeline, plain Python
    ("adgenesis.lifecycle",),  # training jobs, registry, promotions, batches
    ("adgenesis.cli",),  # the `adgenesis` command, over the lifecycle's HTTP client
    ("deployments", "train_jobs"),  # what runs on the cluster: Serve replicas and the HTTP edge, Ray Train recipes
    ("batch_jobs",),  # Ray Jobs over a file of rows, through the app's handles: they record errors as the edge answers
    ("graphs",),  # the Serve application: binds the deployments
    ("tools",),  # local cluster, model building, monitoring, fault injection
    ("benchmarks", "scripts"),
    ("tests",),
)
RANK = {layer: rank for rank, layers in enumerate(LEVELS) for layer in layers}
PACKAGES = {layer.split(".")[0] for layer in RANK}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return next(".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in RANK)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    found = {}
    for package in sorted(PACKAGES):
        for path in (REPO_ROOT / package).rglob("*.py"):
            found[module_name(path)] = path
    return found


def _target(name: str, importer: str) -> str | None:
    """The first-party module an imported dotted name means (a submodule, else its package), or None."""
    known = modules()
    if name.split(".")[0] not in PACKAGES:
        # benchmarks/ and scripts/ run as scripts with their own folder on sys.path: `from results import ...`
        name = f"{importer.rpartition('.')[0]}.{name}"
    parts = name.split(".")
    return next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known), None)


@lru_cache(maxsize=1)
def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported first-party module: line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules().items():
        edges: dict[str, int] = {}
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # `from pkg import name` imports pkg.name when that is a module, else takes a name from pkg.
                names = [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                target = _target(name, module)
                if target is not None and target != module:
                    edges.setdefault(target, node.lineno)
        graph[module] = edges
    return graph


def test_the_graph_is_read():
    graph = import_graph()
    assert "adgenesis.protocol" in graph["deployments.ingress"]
    assert "adgenesis.engines.design" in graph["batch_jobs.designs"]
    assert all(module in graph for module in ("graphs.app", "tools.local_cluster", "tests.conftest"))


def test_imports_run_down_the_layers():
    wrong = []
    for module, edges in sorted(import_graph().items()):
        source = layer_of(module)
        for target, line in sorted(edges.items()):
            layer = layer_of(target)
            if layer != source and RANK[layer] >= RANK[source]:
                wrong.append(f"{modules()[module].relative_to(REPO_ROOT)}:{line}: {module} ({source}) imports "
                             f"{target} ({layer})")
    assert not wrong, "imports against the layers of docs/architecture.md:\n" + "\n".join(wrong)


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each as one cycle's modules in order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_cycle_through(sorted(component), graph))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle_through(component: list[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """One cycle inside a strongly connected component, from its first module back to it (breadth first)."""
    members, start = set(component), component[0]
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt in members and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    return component


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_checks_catch_what_they_should():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert layer_of("adgenesis.engines.design") == "adgenesis.engines"
    assert layer_of("adgenesis.protocol") == "adgenesis"
    assert RANK[layer_of("deployments.llm")] == RANK[layer_of("train_jobs.common")] < RANK[layer_of("batch_jobs.designs")]
