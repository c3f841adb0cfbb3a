"""Reading a YAML file a user (or anyone) handed us, within bounds.

`yaml.safe_load` runs no code, but it still trusts its input in other ways: a mapping may
repeat a key (the last one silently wins), a few lines of aliases may stand for a billion
values (the "billion laughs"), deep nesting exhausts the stack, and implicit timestamps or
`!!set`/`!!binary` values are not plain data. This reader refuses all of that up front, with
a message that names the line, so that nothing downstream ever sees such a document.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.constructor import ConstructorError

MAX_BYTES = 1 << 20  # a pipeline or target is a few kB; 1 MiB is far beyond any real one
MAX_NODES = 100_000  # values in the document once every alias is expanded
MAX_DEPTH = 32  # levels of nesting (a pipeline needs about 6)

# Plain data only: these tags build Python objects that are not JSON-like values.
REFUSED_TAGS = ("set", "binary", "omap", "pairs", "timestamp")
MERGE = "tag:yaml.org,2002:merge"


class YamlLimitError(Exception):
    """The document is outside the bounds above; `line` is 1-based, or None."""

    def __init__(self, problem: str, line: int | None = None):
        super().__init__(problem)
        self.problem, self.line = problem, line


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, non-JSON tags and oversized expansions."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(self, node)
        return super().construct_mapping(node, deep=deep)

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        measure(node)
        return self.construct_document(node)


# No implicit timestamps: `2024-01-01` stays the string it looks like.
BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith(":timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_tag(loader: BoundedLoader, node) -> None:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise ConstructorError(
        None,
        None,
        f"the tag {tag} is not plain data; write a string, number, list or mapping instead",
        node.start_mark,
    )


for _tag in REFUSED_TAGS:
    BoundedLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


def _refuse_duplicate_keys(loader: BoundedLoader, node: yaml.MappingNode) -> None:
    """A key given twice in one mapping is an error naming both lines (merge keys aside:
    `<<: *base` followed by an override is how YAML spells inheritance)."""
    seen: dict = {}
    for key_node, _value in node.value:
        if key_node.tag == MERGE or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise YamlLimitError(
                f"duplicate key '{key}' at line {line} (first given at line {seen[key]}); "
                "a key may appear once in a mapping — keep one of them",
                line,
            )
        seen[key] = line


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def measure(root) -> None:
    """Refuse a document whose expanded size or depth is out of bounds, or that refers to
    itself. Aliases share nodes, so sizes are memoised per node: a billion laughs costs a
    few dozen steps here, not a billion."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, finished = stack.pop()
        nid = id(node)
        if finished:
            sizes = [done[id(c)] for c in _children(node)]
            count = 1 + sum(s[0] for s in sizes)
            depth = 1 + max((s[1] for s in sizes), default=0)
            _check_bounds(node, count, depth)
            done[nid] = (count, depth)
            on_path.discard(nid)
        elif nid not in done:
            if nid in on_path:
                raise YamlLimitError("an alias refers to a node that contains it", _line(node))
            on_path.add(nid)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))


def _check_bounds(node, count: int, depth: int) -> None:
    if count > MAX_NODES:
        raise YamlLimitError(
            f"the document expands to more than {MAX_NODES:,} values (through aliases or "
            "sheer size); a pipeline or target holds a few hundred",
            _line(node),
        )
    if depth > MAX_DEPTH:
        raise YamlLimitError(f"values are nested more than {MAX_DEPTH} levels deep", _line(node))


def _line(node) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def read_bounded(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of `path` (a size that stat reports may be wrong)."""
    with open(path, "rb") as f:
        return f.read(MAX_BYTES + 1)


def load_text(text: str):
    """The document in `text`, parsed with BoundedLoader."""
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
