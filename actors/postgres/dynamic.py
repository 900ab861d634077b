"""The cluster's PostgreSQL parameters (``postgresql.parameters`` in the DCS) applied to
this node's server, as Patroni applies them.

Every DCS view repeats the config; a set of parameters that differs from the
last one seen is queued (only the newest waits) and applied once: judged
against the server's own catalogue, values it would refuse left out
(parameters.py), the files written, and a running server reloaded when
postgresql.conf changed.  A reload applies sighup, superuser and user
settings; a postmaster setting stays ``pending_restart`` (pg_settings) until
the next restart, which the status reports.  A stopped server gets the set
at its next start.

The PostmasterActor applies a set only while no action runs in its worker (a
start writes the files itself); one that arrives meanwhile waits for the end.
Used on the actor's thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from actors.postgres.connection import QueryError
from actors.postgres.control import Postmaster
from actors.postgres.parameters import (
    SETTINGS_SQL,
    catalogue_from_rows,
    changes,
    describe_config,
    vet,
)
from messages.pg_parameters import Catalogue, ParameterSpec
from messages.postgres import ParameterCatalogue

log = logging.getLogger(__name__)


class CatalogueCache:
    """The best catalogue to be had, read once: pg_settings as soon as a server runs
    (types, units, ranges, enum values), ``--describe-config`` until then.

    A server's catalogue is its binaries': it does not change while they do not.
    """

    def __init__(
        self,
        *,
        running: Callable[[], bool],
        from_server: Callable[[], dict[str, ParameterSpec]],
        from_binaries: Callable[[], dict[str, ParameterSpec]],
    ) -> None:
        self._running = running
        self._from_server = from_server
        self._from_binaries = from_binaries
        self.catalogue: dict[str, ParameterSpec] = {}
        self.source = ""

    def get(self) -> Catalogue:
        """The catalogue (empty when none could be read); a server is asked once it runs."""
        if self.source != "pg_settings" and self._running():
            catalogue = self._from_server()
            if catalogue:
                self.catalogue, self.source = catalogue, "pg_settings"
        if not self.catalogue:
            self.catalogue = self._from_binaries()
            self.source = "describe-config" if self.catalogue else ""
        return self.catalogue


class ClusterParameters:
    """The DCS's parameter sets, queued and applied to `pm` one at a time."""

    def __init__(self, pm: Postmaster) -> None:
        self.pm = pm
        self._seen: dict[str, str] | None = None
        self._queued: dict[str, str] | None = None
        self.catalogues = CatalogueCache(
            running=pm.is_alive,
            from_server=self._server_catalogue,
            from_binaries=lambda: describe_config(pm.settings, pm.user),
        )

    def offer(self, wanted: Mapping[str, str]) -> bool:
        """Queue `wanted` unless it is the set seen last; whether it was queued."""
        if wanted == self._seen:
            return False
        self._seen = self._queued = dict(wanted)
        return True

    def apply_queued(self) -> bool:
        """Apply the queued set, if any; whether there was one."""
        wanted, self._queued = self._queued, None
        if wanted is None:
            return False
        before = self.pm.config.dynamic
        accepted = vet(wanted, before, self.catalogues.get())
        if accepted != before:
            log.info("postgresql.parameters: %s", changes(before, accepted))
        pending = self.pm.apply_dynamic_parameters(accepted)
        if pending:
            log.info("parameters changed that need a restart: %s", ", ".join(pending))
        return True

    def describe(self) -> ParameterCatalogue:
        catalogue = self.catalogues.get()
        return ParameterCatalogue(
            parameters=tuple(catalogue.values()), source=self.catalogues.source
        )

    def _server_catalogue(self) -> dict[str, ParameterSpec]:
        try:
            return catalogue_from_rows(self.pm.query(SETTINGS_SQL))
        except QueryError as exc:
            log.info("pg_settings could not be read: %s", exc)
            return {}
