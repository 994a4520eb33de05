"""The one YAML reader of the product: suites, registry cards, `--set` values and any other YAML a user
or a submitter writes go through `load_yaml` (text) or `read_yaml` (a file).

YAML's safe loader already refuses tags that build objects, but not aliases: a document of a few hundred
bytes whose anchors refer to anchors ("billion laughs") loads as a small shared graph and explodes in
memory once anything walks it (validation, `json.dumps`, a copy). So every document is measured as a tree
before it is constructed: more than `MAX_NODES` values once aliases are expanded, an alias that refers to
itself, nesting deeper than `MAX_DEPTH`, or a file over `MAX_BYTES` is a one-line BenchError. Anchors and
aliases within those bounds stay legal: a suite may share a block of hyperparameters between experiments.
"""

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from aca_bench.benchmark.errors import BenchError

MAX_NODES = 100_000  # values in the document with aliases expanded; the largest built-in file has < 500
MAX_DEPTH = 100  # nesting of sequences and mappings
MAX_BYTES = 1_000_000  # of a YAML file


class MalformedYaml(BenchError):
    """Text that is not YAML (a caller may take it as plain text instead); a document over a bound is a
    plain BenchError."""


class _Refused(Exception):
    """The document is over a bound; the message says which."""


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that measures the composed document (aliases expanded) before constructing it."""

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set(), 0)
        return node


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _expanded_size(node: Node, sizes: dict[int, int], open_: set[int], depth: int) -> int:
    """How many values `node` stands for with every alias expanded (an alias is the same node object
    again, so `sizes` memoises by identity and the walk costs the document's size, not its expansion)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise _Refused("an alias refers to a node that contains it (a recursive document)")
    if depth > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    open_.add(key)
    total = 1 + sum(_expanded_size(child, sizes, open_, depth + 1) for child in _children(node))
    open_.discard(key)
    if total > MAX_NODES:
        raise _Refused(f"its aliases expand to more than {MAX_NODES:,} values (a 'billion laughs' document?)")
    sizes[key] = total
    return total


def load_yaml(text: str, where: str) -> Any:
    """The value of the YAML document `text`; anything malformed or over a bound is a one-line BenchError
    that starts with `where` (a file name, or e.g. '--set lr')."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        raise BenchError(f"{where}: refused YAML: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise MalformedYaml(
            f"{where}:{line} malformed YAML: {getattr(exc, 'problem', None) or exc}"
        ) from None
    except RecursionError:
        raise BenchError(f"{where}: refused YAML: nested too deeply to read") from None


def read_yaml(path: str | Path) -> Any:
    """The value of the YAML file at `path` (see `load_yaml`); an unreadable file, or one over
    `MAX_BYTES`, is a one-line BenchError naming it."""
    try:
        with open(path, "rb") as f:
            blob = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(blob) > MAX_BYTES:
        raise BenchError(f"{path}: refused YAML: the file is over {MAX_BYTES:,} bytes")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return load_yaml(text, str(path))
