"""What pgactor writes into one data directory's config files, from what it is told.

:class:`ServerConfig` holds the values that change while the node runs --
the cluster's parameters from the DCS, ``synchronous_standby_names`` -- and
writes the files (conffiles.py) from them and the node's settings.  On a
standby it first raises the settings a hot standby needs at least as high as
its primary (parameters.py), reading the primary's values from pg_control.

Used by :class:`~actors.postgres.control.Postmaster` on two threads, never at
once: the actor's, and an action's worker (a start writes the files), which
runs while the actor leaves these values alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from actors.postgres import conffiles
from actors.postgres.oscommand import OsUser, ensure_run_dir
from actors.postgres.parameters import log_raised, standby_minimums, with_minimums
from messages.cluster import Role
from messages.config import PostgresSettings
from messages.postgres import Upstream


class ServerConfig:
    """The config files of ``settings.data_dir`` for member ``name``."""

    def __init__(  # noqa: PLR0913 - all keyword-only
        self,
        settings: PostgresSettings,
        *,
        name: str,
        scope: str,
        user: OsUser,
        socket_dir: str,
        dynamic: Mapping[str, str],
        use_slots: bool,
        controldata: Callable[[], dict[str, str]],
    ) -> None:
        self.settings = settings
        self.name = name
        self.scope = scope
        self.user = user
        self.socket_dir = socket_dir
        self.dynamic = dict(dynamic)
        """The cluster-wide parameters (from the DCS), as last set."""
        self.sync_names = (
            conffiles.read_parameter(settings.data_dir, "synchronous_standby_names") or ""
        )
        self.raised: dict[str, int] = {}
        """Settings this standby was last written with above their configured values."""
        self._use_slots = use_slots
        self._controldata = controldata

    def parameters(self) -> dict[str, str]:
        """What postgresql.conf will say (after the included base file)."""
        return with_minimums(*self._planned())

    def _planned(self) -> tuple[dict[str, str], dict[str, int]]:
        """The parameters as configured, and those a standby raises to its primary's."""
        configured = conffiles.server_parameters(
            self.settings,
            scope=self.scope,
            socket_dir=self.socket_dir,
            dynamic=self.dynamic,
            sync_names=self.sync_names,
        )
        if not conffiles.is_standby(self.settings.data_dir):
            return configured, {}
        return configured, standby_minimums(configured, self._controldata())

    def write(self) -> bool:
        """postgresql.conf, pg_hba.conf, pg_ident.conf (not the recovery settings);
        whether postgresql.conf changed."""
        ensure_run_dir(self.settings, self.user)
        configured, raised = self._planned()
        if raised != self.raised:
            log_raised(raised, configured)
            self.raised = raised
        return conffiles.write_all(self.settings, self.user, with_minimums(configured, raised))

    def configure_role(self, role: Role, upstream: Upstream | None) -> None:
        """A replica's recovery settings and standby.signal, or a primary's lack of them."""
        if role is Role.REPLICA:
            slot = conffiles.slot_name(self.name) if self._use_slots and upstream else None
            conffiles.write_recovery(
                self.settings, self.user, upstream=upstream, application_name=self.name, slot=slot
            )
        else:
            conffiles.clear_recovery(self.settings.data_dir)
