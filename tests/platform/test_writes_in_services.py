"""Every write that a view, the admin, the API or a task performs goes through a service.

The scan reads the syntax tree of each views/admin/api/tasks module of `ratings_site` and
fails on a direct ORM write there: `.save()`, `.delete()`, `.bulk_create()`, `.get_or_create()`,
`Model.objects.create()`, a queryset's `.update()`, or handing the write to Django's admin
(`super().save_model()` and friends). The few places where Django's or DRF's own admin
machinery writes are allowed by name below, each with its reason.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "ratings_site"

# Module names that hold the entry points: views, rater views, admin, admin actions, API, tasks.
ENTRY_MODULES = ("views.py", "admin.py", "admin_actions.py", "api.py", "tasks.py")

# A write whatever it is called on (no dict or list has these).
ALWAYS_WRITES = {"save", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
# A write when called on a manager or a queryset (`extra_context.update(...)` is a dict).
QUERYSET_WRITES = {"create", "update"}
QUERYSET_READS = {"objects", "filter", "exclude", "all", "select_related", "prefetch_related", "order_by",
                  "select_for_update", "queryset", "qs"}
# Handing the object to ModelAdmin's own save or delete.
ADMIN_WRITES = {"save_model", "delete_model", "delete_queryset", "save_related", "save_formset"}

# (path relative to ratings_site, enclosing Class.function) -> why the direct write is fine.
ALLOWED = {
    ("api/admin.py", "OwnTokenAdmin.save_model"):
        "DRF's own token admin creates the token (a key it generates); it only pins the owner first",
}


def _names_in(node: ast.AST) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Name):
            found.add(sub.id)
    return found


def _is_super_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


class WriteFinder(ast.NodeVisitor):
    def __init__(self):
        self.scope: list[str] = []
        self.found: list[tuple[int, str, str]] = []  # (line, Class.function, call)

    def _visit_scope(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _visit_scope

    def visit_Call(self, node: ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            name, receiver = func.attr, func.value
            write = (
                name in ALWAYS_WRITES and not _is_super_call(receiver)
                or name in QUERYSET_WRITES and _names_in(receiver) & QUERYSET_READS
                or name in ADMIN_WRITES and _is_super_call(receiver)
            )
            if write:
                self.found.append((node.lineno, ".".join(self.scope), f".{name}("))
        self.generic_visit(node)


def writes_in(source: str) -> list[tuple[int, str, str]]:
    finder = WriteFinder()
    finder.visit(ast.parse(source))
    return finder.found


def entry_modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py")
                  if "migrations" not in p.parts and (p.name in ENTRY_MODULES or p.name.endswith("_views.py")))


def test_the_scan_finds_each_kind_of_direct_write():
    source = '''
from django.contrib import admin
class ThingAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
    @admin.action
    def close(self, request, queryset):
        queryset.update(status="closed")
def view(request, pk):
    context = {}
    context.update(a=1)  # a dict, not a write
    Thing.objects.create(name="x")
    Thing.objects.filter(pk=pk).update(name="y")
    thing = Thing.objects.get(pk=pk)
    thing.save(update_fields=["name"])
    thing.delete()
    Thing.objects.bulk_create([])
    Rater.objects.get_or_create(external_id="w")
    form.save()
'''
    found = [(scope, call) for _, scope, call in writes_in(source)]
    assert found == [
        ("ThingAdmin.save_model", ".save_model("), ("ThingAdmin.close", ".update("), ("view", ".create("),
        ("view", ".update("), ("view", ".save("), ("view", ".delete("), ("view", ".bulk_create("),
        ("view", ".get_or_create("), ("view", ".save("),
    ]


def test_views_admin_api_and_tasks_write_only_through_services():
    modules = entry_modules()
    assert len(modules) > 20  # the scan saw the tree, not an empty folder
    offences, used = [], set()
    for path in modules:
        rel = path.relative_to(ROOT).as_posix()
        for line, scope, call in writes_in(path.read_text()):
            if (rel, scope) in ALLOWED:
                used.add((rel, scope))
                continue
            offences.append(f"ratings_site/{rel}:{line} {scope or '<module>'} calls {call} directly; move it into a service")
    assert not offences, "\n".join(offences)
    assert used == set(ALLOWED), f"allow-list entries that no longer match a write: {set(ALLOWED) - used}"
