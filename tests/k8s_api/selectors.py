"""Label and field selectors, parsed and matched the way the API server does.

Label selectors (``labelSelector``) follow k8s.io/apimachinery/pkg/labels:
comma-joined requirements ``a``, ``!a``, ``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x)``, ``a>1``, ``a<1``.  The text is tokenised
first, so commas inside parentheses never split a requirement.  ``!=`` and
``notin`` also match objects that lack the label, as in Kubernetes.

Field selectors (``fieldSelector``) are comma-joined ``field=value``,
``field==value`` or ``field!=value`` terms with backslash escapes; only the
fields the kind supports are accepted (``metadata.name`` and
``metadata.namespace`` everywhere, a few more for pods).

Anything malformed is a 400 BadRequest, as on a real server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request

_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY_RE = re.compile(rf"(?:(?P<prefix>{_DNS_SUBDOMAIN})/)?(?P<name>{_NAME})")
_VALUE_RE = re.compile(rf"({_NAME})?")
_SPECIAL = "!=(),<>"
_SET_OPS = ("in", "notin")


@dataclass(frozen=True)
class _Token:
    type: str  # "ident", "in", "notin", "=", "!=", "!", "(", ")", ",", "<", ">", "end"
    value: str


@dataclass(frozen=True)
class Requirement:
    """One label requirement; `op` is exists, !, =, !=, in, notin, > or <."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        return present and _compare_int(value, self.op, int(self.values[0]))


def _compare_int(value: str, op: str, bound: int) -> bool:
    try:
        number = int(value)
    except ValueError:
        return False
    return number > bound if op == ">" else number < bound


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of requirements; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        try:
            return cls(_LabelParser(text).parse())
        except _SyntaxError as exc:
            raise bad_request(f'unable to parse label selector "{text}": {exc}') from None

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


class _SyntaxError(Exception):
    pass


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif text[i : i + 2] in ("==", "!="):
            tokens.append(_Token("=" if text[i] == "=" else "!=", text[i : i + 2]))
            i += 2
        elif text[i] in _SPECIAL:
            tokens.append(_Token(text[i], text[i]))
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            word = text[i:j]
            tokens.append(_Token(word if word in _SET_OPS else "ident", word))
            i = j
    tokens.append(_Token("end", ""))
    return tokens


class _LabelParser:
    """Recursive descent over the token list, one requirement at a time."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._pos = 0

    def _peek(self) -> _Token:
        return self._tokens[self._pos]

    def _next(self) -> _Token:
        token = self._tokens[self._pos]
        self._pos = min(self._pos + 1, len(self._tokens) - 1)
        return token

    def parse(self) -> tuple[Requirement, ...]:
        if self._peek().type == "end":
            return ()
        requirements = [self._requirement()]
        while (token := self._next()).type != "end":
            if token.type != ",":
                raise _SyntaxError(f"found '{token.value}', expected: ',' or 'end of string'")
            requirements.append(self._requirement())
        return tuple(requirements)

    def _requirement(self) -> Requirement:
        token = self._next()
        if token.type == "!":
            key = self._key(self._next())
            if self._peek().type not in (",", "end"):
                raise _SyntaxError(
                    f"found '{self._peek().value}', expected: ',' or 'end of string'"
                )
            return Requirement(key, "!")
        key = self._key(token)
        if self._peek().type in (",", "end"):
            return Requirement(key, "exists")
        op = self._next()
        if op.type in _SET_OPS:
            return Requirement(key, op.type, self._value_set(op.type))
        if op.type in ("=", "!="):
            return Requirement(key, op.type, (self._exact_value(),))
        if op.type in ("<", ">"):
            return Requirement(key, op.type, (self._integer(),))
        raise _SyntaxError(f"found '{op.value}', expected: in, notin, =, ==, !=, gt, lt")

    def _key(self, token: _Token) -> str:
        if token.type not in ("ident", *_SET_OPS):
            raise _SyntaxError(f"found '{token.value}', expected: identifier")
        _validate_key(token.value)
        return token.value

    def _exact_value(self) -> str:
        if self._peek().type in (",", "end"):
            return ""  # "a=" selects the empty value, as in Kubernetes
        token = self._next()
        if token.type not in ("ident", *_SET_OPS):
            raise _SyntaxError(f"found '{token.value}', expected: identifier")
        return _validate_value(token.value)

    def _integer(self) -> str:
        token = self._next()
        if token.type != "ident" or not re.fullmatch(r"-?[0-9]+", token.value):
            raise _SyntaxError(
                f"for 'gt', 'lt' operators, the value must be an integer: {token.value!r}"
            )
        return token.value

    def _value_set(self, op: str) -> tuple[str, ...]:
        if self._next().type != "(":
            raise _SyntaxError(f"found '{self._tokens[self._pos - 1].value}', expected: '('")
        values: list[str] = []
        want_value = True
        while (token := self._next()).type != ")":
            if token.type in ("ident", *_SET_OPS) and want_value:
                values.append(_validate_value(token.value))
                want_value = False
            elif token.type == ",":
                if want_value:
                    values.append("")  # "(,x)" names the empty value
                want_value = True
            else:
                raise _SyntaxError(f"found '{token.value}', expected: ',', ')' or identifier")
        if values and want_value:
            values.append("")
        if not values:
            raise _SyntaxError(f"for '{op}' operator, values set can't be empty")
        return tuple(values)


def _validate_key(key: str) -> None:
    match = _KEY_RE.fullmatch(key)
    prefix = match.group("prefix") if match else None
    if not match or len(match.group("name")) > 63 or (prefix and len(prefix) > 253):
        raise _SyntaxError(f"invalid label key {key!r}: must be a qualified name")


def _validate_value(value: str) -> str:
    if len(value) > 63 or not _VALUE_RE.fullmatch(value):
        raise _SyntaxError(f"invalid label value {value!r}: must be a valid label value")
    return value


@dataclass(frozen=True)
class FieldRequirement:
    """``field op value`` where op is "=" or "!=" ("==" is parsed as "=")."""

    field: str
    op: str
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        equal = _field_value(obj, self.field) == self.value
        return equal if self.op == "=" else not equal


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return "" if node is None else str(node)


def parse_field_selector(text: str, allowed: frozenset[str]) -> tuple[FieldRequirement, ...]:
    """Parse ``fieldSelector``; fields outside `allowed` are a 400 like the real server's."""
    requirements = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        name, op, value = _split_term(term)
        if name not in allowed:
            raise bad_request(f'field label not supported: "{name}"')
        requirements.append(FieldRequirement(name, op, _unescape(value)))
    return tuple(requirements)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _split_term(term: str) -> tuple[str, str, str]:
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i].strip(), "!=" if op == "!=" else "=", term[i + len(op) :]
        i += 1
    raise bad_request(f"invalid field selector: '{term}'; can't understand '{term}'")


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 >= len(value) or value[i + 1] not in "\\,=":
                raise bad_request(f"invalid field selector value {value!r}: bad escape")
            i += 1
        out.append(value[i])
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class ObjectFilter:
    """What a list, watch or collection delete selects: kind, namespace and selectors."""

    plural: str
    namespace: str | None = None
    labels: LabelSelector = field(default_factory=LabelSelector)
    fields: tuple[FieldRequirement, ...] = ()

    def matches(self, plural: str, obj: Mapping[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        if plural != self.plural:
            return False
        if self.namespace is not None and metadata.get("namespace") != self.namespace:
            return False
        return self.labels.matches(metadata.get("labels") or {}) and all(
            f.matches(obj) for f in self.fields
        )
