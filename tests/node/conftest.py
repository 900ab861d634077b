"""Shared samples for the node/ tests: a Patroni-style config and a file writer."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

PATRONI_STYLE = """
scope: demo
name: node1
namespace: /service/
restapi:
  listen: 0.0.0.0:8008
  connect_address: 10.0.0.1:8008
  authentication: {username: admin, password: api-s3cret}
etcd3:
  hosts: [10.0.0.10:2379, 10.0.0.11:2379]
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    master_start_timeout: 120
    synchronous_mode: quorum
    synchronous_node_count: 2
    postgresql:
      use_slots: true
      parameters:
        max_connections: 100
        wal_log_hints: on
  initdb:
  - encoding: UTF8
  - data-checksums
  post_init: /usr/local/bin/post-init.sh
postgresql:
  listen: 127.0.0.1,10.0.0.1:5432
  connect_address: 10.0.0.1:5432
  data_dir: /var/lib/postgresql/data
  bin_dir: /usr/lib/postgresql/16/bin
  authentication:
    superuser: {username: postgres, password: super-s3cret}
    replication: {username: replicator, password: repl-s3cret}
    rewind: {username: rewinder, password: rewind-s3cret}
  parameters:
    shared_buffers: 128MB
    fsync: false
    work_mem: 4.5
  pg_hba:
  - host replication replicator 10.0.0.0/8 scram-sha-256
  callbacks:
    on_role_change: /usr/local/bin/role-changed.sh
  create_replica_methods: [wal_g, basebackup]
  wal_g:
    command: wal-g backup-fetch
    no_master: true
    threads: 4
  basebackup:
  - verbose
  - max-rate: 100M
  - checkpoint=fast
  use_pg_rewind: false
  pg_ctl_timeout: 90
tags:
  nofailover: false
  noloadbalance: true
  failover_priority: 2
log:
  level: debug
"""

MINIMAL = """
scope: demo
name: node1
etcd3: {host: 127.0.0.1:2379}
postgresql:
  data_dir: /data
  bin_dir: /usr/bin
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
"""


@pytest.fixture
def patroni_style_text() -> str:
    return PATRONI_STYLE


@pytest.fixture
def patroni_style() -> dict[str, Any]:
    """A fresh copy of the full Patroni-style sample, to edit per test."""
    data: dict[str, Any] = yaml.safe_load(PATRONI_STYLE)
    return data


@pytest.fixture
def minimal() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MINIMAL)
    return data


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "pgactor.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PGACTOR_ or POD_ variables from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith(("PGACTOR_", "POD_")):
            monkeypatch.delenv(name)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """setup_logging replaces the root handlers and SIGUSR1; put them back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sigusr1 = signal.getsignal(signal.SIGUSR1)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    signal.signal(signal.SIGUSR1, sigusr1)
    logging.captureWarnings(False)
