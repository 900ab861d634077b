"""The cluster's PostgreSQL parameters on their way into postgresql.conf: judged, then
raised where a hot standby needs it.  Both rules are Patroni's.

- A value the server would refuse is never written: in postgresql.conf it
  would stop the next start, and a reload would skip it with a line in a log
  nobody reads.  :func:`vet` judges each value against the server's own
  catalogue (``pg_settings`` of the running server, else ``postgres
  --describe-config``, see dynamic.py), logs a refusal with the
  parameter's name and what it accepts, and keeps the value written before
  for that parameter (bad input changes nothing); the others are applied.
- A hot standby refuses to run with less of a few shared resources than its
  primary has (:data:`STANDBY_MINIMUMS`); PostgreSQL records the primary's
  values in the standby's pg_control as it replays them.
  :func:`standby_minimums` says which of a standby's settings must be raised
  to those (Patroni's ``effective_configuration``).  So a value lowered for
  the cluster reaches a standby only once the primary runs with it, and a
  value raised reaches the standbys' files at once: restarted first, they
  keep streaming when the primary restarts with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from actors.postgres.oscommand import OsUser, binary, run_command
from messages.config import PostgresSettings
from messages.pg_parameters import (
    Catalogue,
    ParameterSpec,
    catalogue_of,
    check_parameter,
    integer_value,
    parse_describe_config,
    spec_from_pg_settings,
)

log = logging.getLogger(__name__)

DESCRIBE_TIMEOUT_S = 10.0
SETTINGS_SQL = "SELECT name, vartype, context, unit, min_val, max_val, enumvals FROM pg_settings"
_SETTINGS_COLUMNS = ("name", "vartype", "context", "unit", "min_val", "max_val", "enumvals")

STANDBY_MINIMUMS: Mapping[str, tuple[str, int]] = {
    "max_connections": ("max_connections setting", 100),
    "max_worker_processes": ("max_worker_processes setting", 8),
    "max_wal_senders": ("max_wal_senders setting", 10),
    "max_prepared_transactions": ("max_prepared_xacts setting", 0),
    "max_locks_per_transaction": ("max_locks_per_xact setting", 64),
}
"""Settings a hot standby needs at least as high as its primary's: the pg_controldata
line holding the primary's value, and PostgreSQL's default (used when none is set)."""


# -- the catalogue ---------------------------------------------------------------------


def catalogue_from_rows(rows: Sequence[Sequence[Any]]) -> dict[str, ParameterSpec]:
    """A catalogue from the rows of :data:`SETTINGS_SQL`."""
    named = (dict(zip(_SETTINGS_COLUMNS, row, strict=True)) for row in rows)
    return catalogue_of(spec_from_pg_settings(row) for row in named)


def describe_config(settings: PostgresSettings, user: OsUser) -> dict[str, ParameterSpec]:
    """``postgres --describe-config`` (no server needed); empty when it cannot be run."""
    args = [binary(settings, "postgres"), "--describe-config"]
    result = run_command(args, user, timeout_s=DESCRIBE_TIMEOUT_S)
    catalogue = parse_describe_config(result.stdout) if result.ok else {}
    if not catalogue:
        log.warning("postgres --describe-config gave no catalogue: %s", result.tail(3))
    return catalogue


# -- judging the wanted values ------------------------------------------------------------


def vet(
    wanted: Mapping[str, str], before: Mapping[str, str], catalogue: Catalogue
) -> dict[str, str]:
    """The parameters to write: `wanted`, less each value the server would refuse, for
    which the value written `before` stays (or none).  Every refusal is logged."""
    if not catalogue:
        log.warning("postgresql.parameters written unchecked: PostgreSQL's catalogue is unknown")
        return dict(wanted)
    accepted = {}
    for name, value in wanted.items():
        why = check_parameter(catalogue, name, value)
        if why is None:
            accepted[name] = value
            continue
        kept = before.get(name)
        outcome = "not set" if kept is None else f"{kept!r} kept"
        log.error("postgresql.parameters.%s = %r refused (%s): %s", name, value, outcome, why)
        if kept is not None:
            accepted[name] = kept
    return accepted


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    """``name: old -> new`` for each parameter that differs, for the log."""
    names = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    return ", ".join(f"{n}: {before.get(n, '(unset)')} -> {after.get(n, '(unset)')}" for n in names)


# -- a hot standby's minimums -------------------------------------------------------------


def standby_minimums(params: Mapping[str, str], control: Mapping[str, str]) -> dict[str, int]:
    """Each setting `params` puts below what the primary runs with, per the standby's
    pg_control (`control`, pg_controldata's lines), with that value."""
    raised = {}
    for name, (label, default) in STANDBY_MINIMUMS.items():
        primary = integer_value(control.get(label, ""))
        configured = integer_value(params[name]) if name in params else default
        if primary is not None and configured is not None and configured < primary:
            raised[name] = primary
    return raised


def with_minimums(configured: Mapping[str, str], raised: Mapping[str, int]) -> dict[str, str]:
    return {**configured, **{name: str(value) for name, value in raised.items()}}


def log_raised(raised: Mapping[str, int], params: Mapping[str, str]) -> None:
    for name, primary in sorted(raised.items()):
        log.warning(
            "%s is %d on this replica, not the configured %s: the primary runs with %d "
            "(pg_controldata) and a hot standby may not have less; it follows once the "
            "primary restarts with the configured value (pending restart)",
            name,
            primary,
            params.get(name, "default"),
            primary,
        )
