"""Which Patroni-style callback a finished PostgreSQL action fires."""

from __future__ import annotations

import pytest

from actors.postgres.callbacks import CallbackAction, callback_for
from messages.cluster import Role
from messages.ha import ActionKind

P, R, U = Role.PRIMARY, Role.REPLICA, Role.UNKNOWN


@pytest.mark.parametrize(
    ("kind", "before", "after", "expected"),
    [
        pytest.param(ActionKind.START, U, R, CallbackAction.ON_START, id="start fires on_start"),
        pytest.param(ActionKind.STOP, P, U, CallbackAction.ON_STOP, id="stop fires on_stop"),
        pytest.param(ActionKind.RESTART, R, R, CallbackAction.ON_RESTART, id="restart"),
        pytest.param(ActionKind.PROMOTE, R, P, CallbackAction.ON_ROLE_CHANGE, id="promote"),
        pytest.param(ActionKind.FOLLOW, P, R, CallbackAction.ON_ROLE_CHANGE, id="demoted follow"),
        pytest.param(ActionKind.FOLLOW, R, R, None, id="a replica changing upstream fires none"),
        pytest.param(ActionKind.REWIND, U, U, None, id="rewind fires none"),
    ],
)
def test_callback_for(kind: ActionKind, before: Role, after: Role, expected: object) -> None:
    assert callback_for(kind, before, after) is expected
