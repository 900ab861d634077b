"""synchronous_standby_names: every shape PostgreSQL accepts, what it refuses, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.sync_replication.names import (
    EVERY_STANDBY,
    OFF,
    Method,
    NamesSyntaxError,
    StandbyNames,
    any_of,
    first,
    format_names,
    parse,
    quote,
)

F, ANY = Method.FIRST, Method.ANY


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", OFF),
        ("   ", OFF),
        ("a", StandbyNames(F, 1, ("a",))),
        ("a, b ,c", StandbyNames(F, 1, ("a", "b", "c"))),
        ("*", EVERY_STANDBY),
        ("FIRST 2 (a, b, c)", StandbyNames(F, 2, ("a", "b", "c"))),
        ("first 1 (a)", StandbyNames(F, 1, ("a",))),
        ("ANY 2 (a,b,c)", StandbyNames(ANY, 2, ("a", "b", "c"))),
        ("AnY 1(a)", StandbyNames(ANY, 1, ("a",))),
        ("2 (a, b)", StandbyNames(F, 2, ("a", "b"))),
        (
            'FIRST 1 ("pod-0", "My ""quoted"" name")',
            StandbyNames(F, 1, ("pod-0", 'My "quoted" name')),
        ),
        ('"first", "any"', StandbyNames(F, 1, ("first", "any"))),
        ("FIRST 1 (*)", StandbyNames(F, 1, ("*",))),
        ("ANY 1 (a, *)", StandbyNames(ANY, 1, ("a", "*"))),
        ("12, s_1$", StandbyNames(F, 1, ("12", "s_1$"))),
        ("nœud", StandbyNames(F, 1, ("nœud",))),
    ],
)
def test_every_shape_postgresql_accepts_parses(text: str, parsed: StandbyNames) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "FIRST",  # a keyword is no name unless quoted
        "a, first",
        "FIRST 1",
        "FIRST 1 ()",
        "FIRST 1 (a,)",
        "FIRST 0 (a)",
        "ANY 1 (a",
        "a b",
        "a,,b",
        "pod-0",  # '-' needs quoting
        '""',
        "'a'",
        "1a",
    ],
)
def test_what_postgresql_refuses_is_a_syntax_error(text: str) -> None:
    with pytest.raises(NamesSyntaxError):
        parse(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (OFF, ""),
        (EVERY_STANDBY, "*"),
        (first(("a", "b")), 'FIRST 2 ("a", "b")'),
        (any_of(1, ("a", "b")), 'ANY 1 ("a", "b")'),
        (any_of(5, ("a", "b")), 'ANY 2 ("a", "b")'),
        (first(('x"y',)), 'FIRST 1 ("x""y")'),
        (first(()), ""),
    ],
)
def test_we_always_write_the_quoted_form(value: StandbyNames, text: str) -> None:
    assert format_names(value) == text


def test_a_lower_case_restatement_differs_in_text_only() -> None:
    value = first(("a",))
    lower = format_names(value, keyword_case="lower")
    assert lower == 'first 1 ("a")' != format_names(value)
    assert parse(lower).equivalent(value)


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ('FIRST 2 ("a", "b")', 'ANY 2 ("b", "a")', True),  # all needed: order and method moot
        ('FIRST 1 ("a", "b")', 'FIRST 1 ("b", "a")', False),  # priority order counts
        ('ANY 1 ("a", "b")', 'ANY 1 ("b", "A")', True),  # names compare case-insensitively
        ('ANY 1 ("a", "b")', 'FIRST 1 ("a", "b")', False),
        ("a", 'FIRST 1 ("a")', True),
        ("", "", True),
        ("", '"a"', False),
        ("*", "FIRST 1 (*)", True),
    ],
)
def test_equivalence_follows_what_the_server_does(left: str, right: str, same: bool) -> None:
    assert parse(left).equivalent(parse(right)) is same


@pytest.mark.parametrize(
    ("text", "quorum"),
    [
        ("", None),
        ("*", None),
        ("ANY 1 (a, *)", None),
        ('FIRST 2 ("a", "b")', 0),
        ('ANY 1 ("a", "b", "c")', 2),
        ('ANY 2 ("a", "b", "c")', 1),
        ('FIRST 1 ("a", "b")', 1),  # who is synchronous may change: count it like ANY
    ],
)
def test_quorum_needed_makes_every_commit_findable(text: str, quorum: int | None) -> None:
    assert parse(text).quorum_needed() == quorum


def test_a_name_with_a_nul_cannot_be_quoted() -> None:
    with pytest.raises(NamesSyntaxError):
        quote("a\x00b")


member_names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=12,
).filter(lambda n: n != "*")


@given(
    method=st.sampled_from(Method),
    names=st.lists(member_names, min_size=1, max_size=5, unique=True),
    num=st.integers(min_value=1, max_value=6),
)
def test_whatever_we_format_parses_back_to_the_same_value(
    method: Method, names: list[str], num: int
) -> None:
    value = StandbyNames(method, num, tuple(names))
    assert parse(format_names(value)) == value
    assert parse(format_names(value, keyword_case="lower")) == value
