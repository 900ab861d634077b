"""Does the former primary still take writes?  Patroni's last check before a promotion.

A replica about to promote itself after its leader's lease ran out asks the
former primary directly: a server that answers ``pg_is_in_recovery()`` with
false still accepts writes, and a second primary must not be made beside it.
Anything else (no answer within a second, a refused login, a server in
recovery) means it does not take writes *through this path*: an unreachable
server cannot acknowledge our clients' writes either, and the lease already
told everyone to stop writing there.
"""

from __future__ import annotations

import logging

import psycopg2

from messages.config import PostgresSettings
from messages.postgres import PrimaryProbed, Upstream

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 1
"""Some libpq versions read 1 as 2: the probe ends within about 3 s either way."""
STATEMENT_TIMEOUT_MS = 1000


def probe_primary(settings: PostgresSettings, upstream: Upstream) -> PrimaryProbed:
    """Ask ``upstream`` whether it is a primary; blocks a few seconds at most."""
    su = settings.authentication.superuser
    try:
        conn = psycopg2.connect(
            host=upstream.host,
            port=upstream.port,
            user=su.username,
            password=su.password or "",
            dbname="postgres",
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="pgactor_probe",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )
    except psycopg2.Error as exc:
        return _not_writable(upstream, f"cannot connect: {_text(exc)}")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            row = cur.fetchone()
    except psycopg2.Error as exc:
        return _not_writable(upstream, f"query failed: {_text(exc)}")
    finally:
        conn.close()
    if row is None or row[0] is not False:
        return _not_writable(upstream, "in recovery: a replica")
    log.warning("former primary %s still answers as a primary", upstream.name)
    return PrimaryProbed(name=upstream.name, writable=True, detail="answers as a primary")


def _not_writable(upstream: Upstream, detail: str) -> PrimaryProbed:
    log.info("former primary %s does not take writes: %s", upstream.name, detail)
    return PrimaryProbed(name=upstream.name, writable=False, detail=detail)


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
