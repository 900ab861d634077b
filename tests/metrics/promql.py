"""The metric names a PromQL expression (or a Grafana query) reads, and what pgactor exports.

Not a PromQL parser: it removes what cannot hold a metric name (strings,
label matchers, ranges, offsets, the label lists of by/without/on/ignoring/
group_left/group_right), then keeps the identifiers that are not a function
call or a keyword.  Wherever promtool is installed, the tests also have it
parse every expression, so an expression this reads wrongly still fails there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from actors.metrics.catalog import BY_NAME, Kind
from actors.metrics.patroni import PATRONI_NAMES

_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[\w$]+")
_IDENT = re.compile(r"(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool"}
    | {"and", "or", "unless", "offset", "inf", "nan"}
)
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$", re.S)
_HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
PATRONI_SERVED = frozenset(p.name for p in PATRONI_NAMES)


def metric_names(expr: str) -> set[str]:
    """Every metric name `expr` selects."""
    text = _STRING.sub(" ", expr)
    text = _LABEL_LIST.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    return {
        name for name, call in _IDENT.findall(text) if not call and name.lower() not in _KEYWORDS
    }


def grafana_query_names(query: str) -> set[str]:
    """A template variable's query: ``label_values(selector, label)``, else PromQL."""
    inner = _LABEL_VALUES.match(query)
    if inner is not None:
        return metric_names(inner.group(1))
    if re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", query):
        return set()  # label_values(label): every series, no metric named
    return metric_names(query)


def exported(name: str) -> bool:
    """Whether a scrape of pgactor can hold series of this name."""
    if name.startswith("patroni_"):
        return name in PATRONI_SERVED
    if name in BY_NAME:
        return True
    for suffix in _HISTOGRAM_SERIES:
        base = name.removesuffix(suffix)
        if base != name and base in BY_NAME and BY_NAME[base].kind is Kind.HISTOGRAM:
            return True
    return False


def dashboard_queries(dashboard: Any) -> Iterator[tuple[str, str, bool]]:
    """(where, query, is_template_query) for every query of a Grafana dashboard."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            yield f"variable {variable['name']}", text, True
    yield from _exprs(dashboard, "dashboard")


def _exprs(node: Any, where: str) -> Iterator[tuple[str, str, bool]]:
    if isinstance(node, dict):
        here = f"{where} > {node['title']}" if isinstance(node.get("title"), str) else where
        here = f"{here} > {node['name']}" if isinstance(node.get("name"), str) else here
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield here, value, False
            elif key != "templating":
                yield from _exprs(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from _exprs(item, where)
