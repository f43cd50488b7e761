"""The import map of the Django-free packages has no cycles: the CLI imports the library,
never the other way, and no two library modules import each other (even lazily, inside a
function: a lazy import hides a cycle, it does not remove it).

grimp reads every import statement of every module; networkx finds the strongly connected
components. A failure prints each cycle as a chain of modules.
"""

from __future__ import annotations

import grimp
import networkx as nx
import pytest

PACKAGES = ("legan", "quality", "faces", "runkit")


def import_graph(packages=PACKAGES) -> nx.DiGraph:
    graph = grimp.build_graph(*packages, cache_dir=None)
    digraph = nx.DiGraph()
    for module in graph.modules:
        digraph.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
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
        back = min((n for n in sub.predecessors(start)), key=lambda n: nx.shortest_path_length(sub, start, n))
        found.append(nx.shortest_path(sub, start, back) + [start])
    return sorted(found)


def test_cycle_finder_reports_a_cycle():
    g = nx.DiGraph([("a.cli", "a.lib"), ("a.lib", "a.cli"), ("a.lib", "a.util")])
    assert cycles(g) == [["a.cli", "a.lib", "a.cli"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_without_cycles(package):
    found = cycles(import_graph((package,)))
    assert not found, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


def test_packages_together_have_no_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join("  " + " -> ".join(c) for c in found)


@pytest.mark.parametrize("module", ["legan.train", "quality.train"])
def test_documented_training_commands_still_run(module):
    """The library hands `python -m` over to its CLI module by name (no import back up)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"usage: python -m {module}" in out.stdout
