"""The import map of ratings_site has no cycles: every import, at module level or inside a
function, goes one way (a service never imports the tasks that import it back)."""
import networkx as nx
import pytest

grimp = pytest.importorskip("grimp")

PACKAGE = "ratings_site"


def import_graph(package: str) -> nx.DiGraph:
    graph = grimp.build_graph(package)
    edges = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith(package + ".") and module != imported:
                edges.add_edge(module, imported)
    return edges


def cycle_start(graph: nx.DiGraph, component) -> str:
    return nx.find_cycle(graph.subgraph(component))[0][0]


def test_ratings_site_has_no_import_cycles():
    graph = import_graph(PACKAGE)
    assert graph.number_of_edges() > 100  # the map was built, not an empty one
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    report = "\n".join(" -> ".join(a for a, _ in nx.find_cycle(graph.subgraph(c))) + f" -> {cycle_start(graph, c)}"
                       for c in cycles)
    assert cycles == [], f"import cycles in {PACKAGE}:\n{report}"
