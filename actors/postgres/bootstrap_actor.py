"""BootstrapActor: creates and repairs the data directory (initdb, clone, rewind).

Its jobs are long (a base backup takes as long as the data takes to copy), so
each runs in a worker thread and a CancelWork is heard meanwhile.  One job at
a time.  A job that would overwrite or rewrite the data directory is refused
while that directory cannot be read (its contents are unknown, not absent:
see datadir.py) and a clone while any PostgreSQL process still works in it
(a server whose directory was removed under it still holds the port).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Unpack

from actors.postgres import bootstrap as pgboot
from actors.postgres import datadir, procfs
from actors.postgres.control import Postmaster
from actors.postgres.oscommand import os_user
from actors.postgres.replica import create_replica
from actors.postgres.result import Result
from actors.postgres.rewind import rewind
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.base import ActorName
from messages.cluster import Role
from messages.config import PostgresSettings
from messages.ha import ActionDone, ActionKind
from messages.metrics import Sample, Samples
from messages.postgres import Bootstrap, CancelWork, CreateReplica, Reinitialize, Rewind

_CLONES = frozenset({ActionKind.CREATE_REPLICA, ActionKind.REINITIALIZE})


def refusal(settings: PostgresSettings, kind: ActionKind) -> str | None:
    """Why a job must not touch the data directory now, or None."""
    problem = datadir.unreadable(settings.data_dir, os_user(settings))
    if problem:
        return f"{kind.value} refused: the data directory cannot be read ({problem})"
    if kind in _CLONES:
        pids = procfs.processes_in_dir(settings.data_dir)
        if pids:
            running = ", ".join(map(str, pids))
            return f"{kind.value} refused: PostgreSQL still runs in {settings.data_dir} ({running})"
    return None


class BootstrapActor(BaseActor):
    """Creates and repairs the data directory; one job at a time, in a worker thread."""

    def __init__(  # noqa: PLR0913 - dependencies, all keyword-only
        self,
        *,
        settings: PostgresSettings,
        member: str,
        scope: str,
        ha_actor: ActorName = ActorName("ha"),
        metrics_actor: ActorName = ActorName("metrics"),
        status_interval_s: float = 5.0,
        dynamic_parameters: Mapping[str, str] | None = None,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.settings = settings
        self.dynamic_parameters = dict(dynamic_parameters or {})
        """The cluster's postgresql.parameters (bootstrap.dcs): a new cluster's first
        start runs with them, not with PostgreSQL's defaults and a pending restart."""
        self.member = member
        self.scope = scope
        self.ha_actor = ha_actor
        self.metrics_actor = metrics_actor
        self.cancel = threading.Event()
        self.worker: threading.Thread | None = None
        self.running: ActionKind | None = None

    def stopping(self) -> None:
        self.cancel.set()
        if self.worker is not None:
            self.worker.join(timeout=30)

    def _run(self, kind: ActionKind, job: Callable[[Postmaster], Result]) -> None:
        if self.worker is not None and self.worker.is_alive():
            if kind is self.running:
                # Asked again for the job already running (the HA actor restarted and
                # forgot it): that job's own ActionDone answers both requests.
                self.log.info("%s already running", kind.value)
                return
            self.log.warning("%s refused: %s is running", kind.value, self.running)
            self.send(self.ha_actor, ActionDone(kind=kind, ok=False, detail="busy"))
            return
        self.running = kind
        self.cancel.clear()
        self.worker = threading.Thread(
            target=self._work, args=(kind, job), name=f"{self.name}-{kind.value}", daemon=True
        )
        self.worker.start()

    def _work(self, kind: ActionKind, job: Callable[[Postmaster], Result]) -> None:
        """Worker thread: run the job, tell the HA actor how it ended."""
        refused = refusal(self.settings, kind)
        if refused is not None:
            self.log.error("%s", refused)
            self.send(self.ha_actor, ActionDone(kind=kind, ok=False, detail=refused))
            return
        pm = Postmaster(
            self.settings,
            name=self.member,
            scope=self.scope,
            dynamic_parameters=self.dynamic_parameters,
        )
        try:
            result = job(pm)
        except Exception as exc:
            self.log.exception("%s failed", kind.value)
            result = Result.failure(f"{type(exc).__name__}: {exc}")
        finally:
            pm.close()
        done = ActionDone(
            kind=kind,
            ok=result.ok,
            detail=result.detail,
            data_dir_removed=bool(getattr(result, "data_dir_removed", False)),
        )
        self.send(self.ha_actor, done)

    @handles(Bootstrap)
    def handle_bootstrap(self, msg: Bootstrap) -> None:
        self._run(ActionKind.BOOTSTRAP, self._initialize)

    def _initialize(self, pm: Postmaster) -> Result:
        result = pgboot.initdb(self.settings)
        if result.ok:
            result = pm.start(Role.PRIMARY, None, self.settings.pg_ctl_timeout_s)
        if result.ok:
            result = pgboot.post_bootstrap(self.settings, pm)
        if not result.ok:
            self.log.error("bootstrap failed, cancelling initialisation: %s", result.detail)
            pgboot.cancel_initialization(self.settings, pm)
        return result

    @handles(CreateReplica)
    def handle_create_replica(self, msg: CreateReplica) -> None:
        self._run(ActionKind.CREATE_REPLICA, lambda pm: self._clone(msg.sources))

    @handles(Reinitialize)
    def handle_reinitialize(self, msg: Reinitialize) -> None:
        self._run(ActionKind.REINITIALIZE, lambda pm: self._clone(msg.sources))

    def _clone(self, sources: Any) -> Result:
        return create_replica(
            self.settings,
            sources,
            name=self.member,
            scope=self.scope,
            progress=self._progress,
            cancel=self.cancel,
        )

    def _progress(self, done: int, total: int) -> None:
        """Worker thread: a base backup's progress, to the log and the metrics."""
        self.log.debug("base backup: %d of %d bytes", done, total)
        progress = (
            Sample(name="pgactor_basebackup_done_bytes", value=float(done)),
            Sample(name="pgactor_basebackup_total_bytes", value=float(total)),
        )
        self.send(self.metrics_actor, Samples(items=progress))

    @handles(Rewind)
    def handle_rewind(self, msg: Rewind) -> None:
        self._run(ActionKind.REWIND, lambda pm: rewind(self.settings, pm, msg.source))

    @handles(CancelWork)
    def handle_cancel(self, msg: CancelWork) -> None:
        self.cancel.set()
