"""The import map of the project has no cycles: the CLI imports the library, never the other
way; a service never imports the tasks that import it back; no two modules import each other,
even lazily inside a function (a lazy import hides a cycle, it does not remove it).

grimp reads every import statement of every module; networkx finds the strongly connected
components. A failure prints one cycle per component as a chain of modules.
"""

from __future__ import annotations

import subprocess
import sys

import networkx as nx
import pytest

grimp = pytest.importorskip("grimp")

PACKAGES = ("ratings_site", "legan", "quality", "faces", "runkit", "mturk", "prolific")


def import_graph(packages=PACKAGES) -> nx.DiGraph:
    graph = grimp.build_graph(*packages, cache_dir=None)
    digraph = nx.DiGraph()
    for module in graph.modules:
        digraph.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module:
                digraph.add_edge(module, imported)
    return digraph


def cycles(digraph: nx.DiGraph) -> list[list[str]]:
    """One shortest cycle per strongly connected component of more than one module."""
    found = []
    for component in nx.strongly_connected_components(digraph):
        if len(component) < 2:
            continue
        sub = digraph.subgraph(component)
        start = min(component)
        back = min(sub.predecessors(start), key=lambda n: nx.shortest_path_length(sub, start, n))
        found.append(nx.shortest_path(sub, start, back) + [start])
    return sorted(found)


def report(found: list[list[str]]) -> str:
    return "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


def test_cycle_finder_reports_a_cycle():
    g = nx.DiGraph([("a.cli", "a.lib"), ("a.lib", "a.cli"), ("a.lib", "a.util")])
    assert cycles(g) == [["a.cli", "a.lib", "a.cli"]]


def test_the_project_has_no_import_cycles():
    graph = import_graph()
    assert graph.number_of_edges() > 300  # the map was built, not an empty one
    found = cycles(graph)
    assert not found, report(found)


def test_the_django_free_packages_do_not_import_the_platform():
    graph = import_graph()
    up = sorted((a, b) for a, b in graph.edges
                if a.split(".")[0] in ("legan", "quality", "faces", "runkit") and b.startswith("ratings_site"))
    assert not up, f"imports from the ML packages up into the platform: {up}"


@pytest.mark.parametrize("module", ["legan.train", "quality.train"])
def test_documented_training_commands_still_run(module):
    """The library hands `python -m` over to its CLI module by name (no import back up)."""
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"usage: python -m {module}" in out.stdout
