"""synchronous_standby_names as data: parse what the server shows, format what we set.

PostgreSQL's grammar (syncrep_gram.y) accepts four shapes::

    FIRST n (s1, s2, ...)   priority: the first n connected names are synchronous
    ANY n (s1, s2, ...)     quorum: any n of the names must acknowledge a commit
    n (s1, s2, ...)         the same as FIRST n (the form before PostgreSQL 10)
    s1, s2, ...             the same as FIRST 1 (the form before 9.6)

A name is an identifier, a number, ``*`` (any standby) or a double-quoted
identifier with ``""`` for a quote; FIRST and ANY are case-insensitive and the
server matches names to ``application_name`` case-insensitively.  The empty
string turns synchronous replication off.  We always write the quoted
``FIRST n ("a", "b")`` / ``ANY n (...)`` form, so a member name is never
mistaken for a keyword or a number.
"""

from __future__ import annotations

import dataclasses
import enum
import re


class Method(enum.Enum):
    FIRST = "FIRST"
    ANY = "ANY"


class NamesSyntaxError(ValueError):
    """Text that PostgreSQL would refuse as synchronous_standby_names."""


@dataclasses.dataclass(frozen=True, slots=True)
class StandbyNames:
    """One parsed value; ``num == 0`` with no names is "off" (the empty string)."""

    method: Method = Method.FIRST
    num: int = 0
    names: tuple[str, ...] = ()

    @property
    def is_off(self) -> bool:
        return not self.names

    @property
    def wildcard(self) -> bool:
        return "*" in self.names

    @property
    def named(self) -> frozenset[str]:
        """The explicit names, case-folded as the server compares them (``*`` excluded)."""
        return frozenset(n.casefold() for n in self.names if n != "*")

    def quorum_needed(self) -> int | None:
        """How many other published standbys a promotion candidate must consult.

        A commit is acknowledged by ``num`` of the named standbys; a candidate
        that sees ``q + 1`` published standbys (itself and q others) finds
        the commit on one of them when ``q + 1 + num > len(names)``, whatever
        subset of the names the published ones are.  None when no published
        standby can be guaranteed the latest commit: replication is off or
        ``*`` lets any standby acknowledge.
        """
        if self.is_off or self.wildcard:
            return None
        return max(0, len(self.named) - self.num)

    def equivalent(self, other: StandbyNames) -> bool:
        """Whether the server would treat both values alike (order counts only for FIRST)."""
        return self.meaning() == other.meaning()

    def meaning(self) -> tuple[object, ...]:
        """A key equal for values the server treats alike."""
        if self.is_off:
            return ("off",)
        folded = tuple(n.casefold() for n in self.names)
        if self.num >= len(folded):  # every name needed: FIRST and ANY agree, order is moot
            return ("all", self.num, frozenset(folded))
        if self.method is Method.ANY:
            return ("any", self.num, frozenset(folded))
        return ("first", self.num, folded)


OFF = StandbyNames()
EVERY_STANDBY = StandbyNames(Method.FIRST, 1, ("*",))
"""``*``: any one standby must acknowledge (strict mode without an eligible standby)."""


def first(names: tuple[str, ...]) -> StandbyNames:
    """Every one of `names` synchronous (``FIRST len (names)``); OFF for none."""
    return StandbyNames(Method.FIRST, len(names), names) if names else OFF


def any_of(num: int, names: tuple[str, ...]) -> StandbyNames:
    """Any `num` of `names` (clamped to their count); OFF for none."""
    return StandbyNames(Method.ANY, max(1, min(num, len(names))), names) if names else OFF


# -- formatting ---------------------------------------------------------------------


def quote(name: str) -> str:
    """A name as a double-quoted identifier; ``*`` stays bare (quoted it is a name)."""
    if name == "*":
        return name
    if "\x00" in name:
        raise NamesSyntaxError("a standby name cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def format_names(value: StandbyNames, *, keyword_case: str = "upper") -> str:
    """The text to set; `keyword_case` "lower" gives an equivalent but different text."""
    if value.is_off:
        return ""
    if value == EVERY_STANDBY:
        return "*"
    keyword = value.method.value if keyword_case == "upper" else value.method.value.lower()
    return f"{keyword} {value.num} ({', '.join(quote(n) for n in value.names)})"


# -- parsing ------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<num>[0-9]+(?![A-Za-z\x80-\U0010ffff_$]))
  | (?P<ident>[A-Za-z\x80-\U0010ffff_][A-Za-z\x80-\U0010ffff_0-9$]*)
  | (?P<punct>[(),*])
    """,
    re.VERBOSE,
)


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "name", "num", "keyword", or the punctuation itself
    text: str


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise NamesSyntaxError(f"unexpected character {text[pos]!r} at offset {pos}")
        pos = match.end()
        kind, value = match.lastgroup, match.group()
        if kind == "quoted":
            if len(value) == 2:
                raise NamesSyntaxError("zero-length quoted name")
            out.append(_Token("name", value[1:-1].replace('""', '"')))
        elif kind == "ident":
            upper = value.upper()
            keyword = upper in ("FIRST", "ANY")
            out.append(_Token("keyword", upper) if keyword else _Token("name", value))
        elif kind == "num":
            out.append(_Token("num", value))
        elif kind == "punct":
            out.append(_Token("name", "*") if value == "*" else _Token(value, value))
    return out


def parse(text: str) -> StandbyNames:
    """Parse a value as PostgreSQL does; raises :class:`NamesSyntaxError`."""
    tokens = _tokens(text)
    if not tokens:
        return OFF
    method, num, rest = _head(tokens)
    if method is None:  # "s1, s2": a bare list is FIRST 1
        return StandbyNames(Method.FIRST, 1, _name_list(rest))
    if not rest or rest[0].kind != "(" or rest[-1].kind != ")":
        raise NamesSyntaxError(f"expected a parenthesised list after {method.value} {num}")
    names = _name_list(rest[1:-1])
    if num <= 0:
        raise NamesSyntaxError(f"number of synchronous standbys ({num}) must be greater than zero")
    return StandbyNames(method, num, names)


def _head(tokens: list[_Token]) -> tuple[Method | None, int, list[_Token]]:
    """The method and count in front of a parenthesised list, if there is one."""
    kind = tokens[0].kind
    if kind == "keyword" and len(tokens) > 1 and tokens[1].kind == "num":
        return Method(tokens[0].text), int(tokens[1].text), tokens[2:]
    if kind == "num" and len(tokens) > 1 and tokens[1].kind == "(":
        return Method.FIRST, int(tokens[0].text), tokens[1:]
    return None, 1, tokens


def _name_list(tokens: list[_Token]) -> tuple[str, ...]:
    names: list[str] = []
    expect_name = True
    for token in tokens:
        if expect_name and token.kind in ("name", "num"):
            names.append(token.text)
        elif not expect_name and token.kind == ",":
            pass
        else:
            raise NamesSyntaxError(f"unexpected {token.text!r} in the list of standby names")
        expect_name = not expect_name
    if expect_name:
        raise NamesSyntaxError("the list of standby names is empty or ends with a comma")
    return tuple(names)
