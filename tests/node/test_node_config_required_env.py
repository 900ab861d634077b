"""PGACTOR_REQUIRED_ENV: a node whose required variables are missing stops, naming them.

In a pod, passwords come from a Secret through optional references; a missing
Secret must be reported by the node, in its log, by the variables' names and
never their values.
"""

from __future__ import annotations

from typing import Any

import pytest

from node.config import ConfigError, parse_config
from node.config.env import required_problems

NAMES = "PGACTOR_SUPERUSER_PASSWORD PGACTOR_REPLICATION_PASSWORD"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, None),
        ({"PGACTOR_REQUIRED_ENV": ""}, None),
        (
            {"PGACTOR_REQUIRED_ENV": NAMES, "PGACTOR_SUPERUSER_PASSWORD": "s"},
            "PGACTOR_REQUIRED_ENV: required but not set: PGACTOR_REPLICATION_PASSWORD",
        ),
        (
            {"PGACTOR_REQUIRED_ENV": NAMES.replace(" ", ","), "PGACTOR_SUPERUSER_PASSWORD": ""},
            "required but not set: PGACTOR_SUPERUSER_PASSWORD, PGACTOR_REPLICATION_PASSWORD",
        ),
        (
            {
                "PGACTOR_REQUIRED_ENV": f"{NAMES}, {NAMES}",
                "PGACTOR_SUPERUSER_PASSWORD": "s",
                "PGACTOR_REPLICATION_PASSWORD": "r",
            },
            None,
        ),
        (
            {"PGACTOR_REQUIRED_ENV": "GOOD BAD-NAME 9LIVES", "GOOD": "x"},
            "PGACTOR_REQUIRED_ENV: not variable names: 9LIVES, BAD-NAME",
        ),
    ],
)
def test_the_required_variables_are_checked(env: dict[str, str], problem: str | None) -> None:
    problems = required_problems(env)
    if problem is None:
        assert problems == []
    else:
        (only,) = problems
        assert problem in only


def test_a_config_with_its_required_variables_missing_is_refused_by_name_only(
    patroni_style: dict[str, Any],
) -> None:
    env = {"PGACTOR_REQUIRED_ENV": NAMES, "PGACTOR_SUPERUSER_PASSWORD": "hunter2-secret"}
    with pytest.raises(ConfigError) as caught:
        parse_config(patroni_style, env=env)
    text = "\n".join(caught.value.problems)
    assert "PGACTOR_REPLICATION_PASSWORD" in text and "Secret" in text
    assert "hunter2-secret" not in text
    env["PGACTOR_REPLICATION_PASSWORD"] = "r"
    config = parse_config(patroni_style, env=env)
    assert config.postgresql.authentication.superuser.password == "hunter2-secret"
