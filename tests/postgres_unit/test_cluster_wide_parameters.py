"""Settings that must agree on primary and standbys come from the cluster-wide config only."""

from __future__ import annotations

import logging

import pytest

from actors.postgres.conffiles import server_parameters
from messages.config import Authentication, PostgresSettings, UserCredentials

USER = UserCredentials(username="postgres")


def settings(**parameters: str) -> PostgresSettings:
    return PostgresSettings(
        data_dir="/nonexistent",
        bin_dir="/nonexistent",
        listen_host="127.0.0.1",
        listen_port=5432,
        connect_host="127.0.0.1",
        connect_port=5432,
        authentication=Authentication(superuser=USER, replication=USER),
        parameters=parameters,
    )


def params(local: dict[str, str], dynamic: dict[str, str]) -> dict[str, str]:
    return server_parameters(
        settings(**local), scope="s", socket_dir="/tmp", dynamic=dynamic, sync_names=""
    )


def test_a_nodes_own_max_connections_is_ignored_for_the_clusters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As in Patroni: a standby refuses to run below the primary's value, so the value
    is the cluster's, set with ctl edit-config, never a node's own."""
    with caplog.at_level(logging.WARNING):
        got = params({"max_connections": "50"}, {"max_connections": "200"})
    assert got["max_connections"] == "200"
    assert "max_connections must be the same on every member" in caplog.text


def test_a_nodes_own_ordinary_parameter_still_wins() -> None:
    assert params({"work_mem": "16MB"}, {"work_mem": "8MB"})["work_mem"] == "16MB"
