"""pgactor ctl list marks a member whose settings wait for a restart, as patronictl does."""

from __future__ import annotations

import dataclasses

from console_support import status  # type: ignore[import-not-found]

from messages.base import MemberName
from node.ctl.render import LIST_COLUMNS, member_rows, table


def test_list_has_a_pending_restart_column_when_a_member_needs_one() -> None:
    st = status()
    members = tuple(
        dataclasses.replace(m, pending_restart=m.name == MemberName("node2"))
        for m in st.cluster.members
    )
    st = dataclasses.replace(st, cluster=dataclasses.replace(st.cluster, members=members))
    rows = member_rows(st)
    assert [r.get("Pending restart") for r in rows] == [None, "*", None]
    header = table(rows, LIST_COLUMNS).splitlines()[1]
    assert header.endswith("| Lag in MB | Pending restart |")


def test_list_has_no_such_column_when_no_member_needs_one() -> None:
    assert "Pending restart" not in table(member_rows(status()), LIST_COLUMNS)
