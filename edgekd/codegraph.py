"""edgekd's own import graph, read statically: which source files a stage's code runs.

A stage's cache key covers the code that computes it and nothing else (Olive keys a pass by
its pass, config and input model), so a report or CLI change reuses every trained model while
a trainer or loss change retrains. The graph follows every `import` of an edgekd module,
including imports inside functions (edgekd imports heavy runtimes lazily), the parent
packages an import runs, and every module of a plugin package named by a
`Registry(kind, "package")`, since a registry imports all of them on first lookup.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "edgekd"
ROOT = Path(__file__).resolve().parent  # the edgekd package folder


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of module `name` (edgekd.x.y), or None if it is not a module."""
    parts = name.split(".")[1:]
    base = root.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def all_modules(root: Path = ROOT) -> list[str]:
    """Every module of the package, sorted."""
    out = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append(".".join([PACKAGE, *parts]))
    return out


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _package_of(name: str, root: Path) -> str:
    f = module_file(name, root)
    return name if f is not None and f.name == "__init__.py" else name.rsplit(".", 1)[0]


def _resolve(node: ast.ImportFrom, here: str, root: Path) -> str | None:
    if not node.level:
        return node.module
    base = _package_of(here, root).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def direct_imports(name: str, root: Path = ROOT, implicit: bool = True) -> frozenset[str]:
    """edgekd modules that module `name` imports anywhere in its source (static).

    `implicit` adds what runs without an import statement naming it: the parent packages of
    each import, and the plugin modules a registry loads. The cycle check leaves them out.
    """
    f = module_file(name, root)
    if f is None:
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(ast.parse(f.read_text(), str(f))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(node, name, root)
            if mod is None:
                continue
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # submodules imported by name
        elif implicit and isinstance(node, ast.Call) and _is_registry_call(node):
            found.update(_plugin_modules(node.args[1].value, root))
    mods = {m for m in found if m.split(".")[0] == PACKAGE and module_file(m, root)}
    if implicit:
        mods |= {p for m in mods for p in _parents(m)}
    else:  # `from edgekd.a import b` names module a.b, not package a, when b is a module
        mods = {m for m in mods if not any(o.startswith(m + ".") and o in found for o in mods)}
    return frozenset(mods - {name})


def _is_registry_call(node: ast.Call) -> bool:
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return (
        called == "Registry"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    )


def _plugin_modules(package: str, root: Path) -> list[str]:
    prefix = package + "."
    return [m for m in all_modules(root) if m == package or m.startswith(prefix)]


def closure(roots: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Every edgekd module reachable from `roots` (and their parent packages), sorted."""
    seen: set[str] = set()
    todo = [m for r in roots for m in (*_parents(r), r)]
    while todo:
        m = todo.pop()
        if m in seen or module_file(m, root) is None:
            continue
        seen.add(m)
        todo.extend(direct_imports(m, root))
    return sorted(seen)


def code_hash(roots: tuple[str, ...], root: Path = ROOT) -> str:
    """Hash of the source of every module in the closure of `roots`."""
    h = hashlib.sha256()
    for m in closure(roots, root):
        f = module_file(m, root)
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def import_cycles(root: Path = ROOT) -> list[list[str]]:
    """Strongly connected groups of 2+ modules in the import graph (each one a cycle)."""
    graph = {m: direct_imports(m, root, implicit=False) for m in all_modules(root)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return groups
