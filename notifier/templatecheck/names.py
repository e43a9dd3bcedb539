"""Names a template uses that nothing provides, from its syntax tree: untaken branches too."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta, nodes
from pydantic import BaseModel

from notifier.templatecheck.findings import Finding, Severity
from notifier.templatecheck.sources import SourceText

# The keys a value offers to `.name` in a template, nested: None where they are not known
# (text, numbers, lists), so that nothing is claimed about them.
Shape = dict[str, Any] | None
# Names Jinja provides itself inside templates, whatever the context.
_JINJA_NAMES = frozenset({"loop", "self", "caller", "varargs", "kwargs", "super"})
_DICT_ATTRIBUTES = frozenset(a for a in dir(dict) if not a.startswith("_"))


def shape_of(value: Any, depth: int = 0) -> Shape:
    if depth > 4:
        return None
    if isinstance(value, Mapping):
        return {str(k): shape_of(v, depth + 1) for k, v in value.items()}
    if isinstance(value, BaseModel):
        names = type(value).model_fields
        return {n: shape_of(getattr(value, n), depth + 1) for n in names}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: shape_of(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        }
    if type(value).__name__ == "TemplateModule":  # an {% import %}ed template's names
        return {n: None for n in vars(value) if not n.startswith("_")}
    return None


def merge(first: Shape, second: Shape) -> Shape:
    """Keys seen in either: a value that is None in one sample and a mapping in another."""
    if first is None:
        return second
    if second is None:
        return first
    merged = dict(first)
    for key, value in second.items():
        merged[key] = merge(merged.get(key), value)
    return merged


def check_names(
    env: Environment,
    name: str,
    *,
    source: str,
    known: Mapping[str, Shape],
    aliases: Mapping[str, Sequence[tuple[str | None, Shape]]] | None = None,
    unknown_names: bool = True,
) -> list[Finding]:
    """Undefined variables, and attributes that no sample's value has.

    `known` is what the context provides (merged over the samples); `aliases` gives local
    names a shape of their own (a macro's `c`, the wording module `t`), each as one or
    more (what, shape) to check against: every language's wording must define a name.
    Without `unknown_names`, names the context may lack are not reported (a document
    whose context is the code's own, not a documented one).
    """
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return [Finding(name, exc.lineno, None, Severity.ERROR, f"syntax error: {exc.message}")]
    text = SourceText(source)
    undeclared = meta.find_undeclared_variables(tree)
    provided = set(known) | set(aliases or {}) | _declared_names(tree)
    provided |= set(env.globals) | _JINJA_NAMES
    found = []
    for node in tree.find_all(nodes.Name):
        if (
            unknown_names
            and node.ctx == "load"
            and node.name in undeclared
            and node.name not in provided
        ):
            found.append(
                Finding(
                    name,
                    node.lineno,
                    text.column_of(node.lineno, node.name),
                    Severity.ERROR,
                    f"undefined variable '{node.name}'",
                )
            )
    for chain in tree.find_all((nodes.Getattr, nodes.Getitem)):
        root, path = _chain(chain)
        if root is None or not path:
            continue
        if aliases and root in aliases:
            checks: Sequence[tuple[str | None, Shape]] = list(aliases[root])
        elif root in undeclared and root in known:
            checks = [(None, known[root])]
        else:
            continue
        for what, shape in checks:
            missing = _missing(shape, path)
            if missing is None:
                continue
            position, attribute = missing
            owner = ".".join([root, *path[:position]])
            where = f" in {what}" if what else ""
            found.append(
                Finding(
                    name,
                    chain.lineno,
                    text.column_of(chain.lineno, attribute, attribute=True),
                    Severity.ERROR,
                    f"undefined attribute '{attribute}' of '{owner}'{where}",
                )
            )
    return found


def _declared_names(tree: nodes.Template) -> set[str]:
    """Names the template sets, loops over, takes as parameters or imports, anywhere.

    Jinja's own analysis counts a name set inside an `{% if %}` branch (or outside the
    blocks of an extending template) as coming from the context; here it counts as set.
    """
    names = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in tree.find_all((nodes.Import, nodes.FromImport, nodes.Macro)):
        if isinstance(node, nodes.Import):
            names.add(node.target)
        elif isinstance(node, nodes.FromImport):
            names |= {alias if isinstance(alias, str) else alias[1] for alias in node.names}
        elif isinstance(node, nodes.Macro):
            names.add(node.name)
    return names


def _chain(node: nodes.Node) -> tuple[str | None, list[str]]:
    """`booking.place.name` as ("booking", ["place", "name"]); None when it is not that simple."""
    path: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            path.append(node.attr)
            node = node.node
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            path.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            return node.name, path[::-1]
        else:
            return None, []


def _missing(shape: Shape, path: list[str]) -> tuple[int, str] | None:
    """The first step of `path` that `shape` does not have: (its index, the attribute)."""
    for index, attribute in enumerate(path):
        if shape is None:
            return None
        if attribute not in shape:
            return None if attribute in _DICT_ATTRIBUTES else (index, attribute)
        shape = shape[attribute]
    return None
