"""Creating a replica's data directory: the configured methods, in order, per source.

``create_replica_methods`` names the methods to try: ``basebackup`` is the
built-in one; any other name is looked up in ``replica_methods`` and run as
``command --scope=S --datadir=D --role=replica --connstring=C
[--KEY=VALUE...]`` as the PostgreSQL user, the replication password in a
PGPASSFILE (as Patroni runs them).  Each method is tried against each source
in turn until one succeeds.  Before a method that does not keep data
(``keep_data``), whatever an earlier attempt left is wiped.  With no source,
only methods marked ``no_leader`` are tried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shlex
import subprocess
import threading
from collections.abc import Sequence

from actors.postgres.basebackup import ProgressFn, basebackup
from actors.postgres.datadir import server_running
from actors.postgres.oscommand import (
    OsUser,
    child_env,
    clear_dir,
    ensure_run_dir,
    is_dir_empty,
    kill_group,
    os_user,
    passfile_line,
    prepare_dir,
    private_file,
    spawn_kwargs,
)
from actors.postgres.result import Result
from messages.config import PostgresSettings, ReplicaMethod
from messages.postgres import Upstream

log = logging.getLogger(__name__)

BASEBACKUP = "basebackup"
POLL_S = 0.1


def _method(settings: PostgresSettings, name: str) -> ReplicaMethod | None:
    if name == BASEBACKUP:
        return ReplicaMethod(name=BASEBACKUP, command="", no_leader=False)
    return next((m for m in settings.replica_methods if m.name == name), None)


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    settings: PostgresSettings
    name: str
    scope: str
    progress: ProgressFn | None
    cancel: threading.Event


def create_replica(  # noqa: PLR0913 - the BootstrapActor's contract, keyword-only
    settings: PostgresSettings,
    sources: Sequence[Upstream],
    *,
    name: str,
    scope: str,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Result:
    """Fill the data directory from the first method and source that work."""
    job = _Job(settings, name, scope, progress, cancel or threading.Event())
    failures: list[str] = []
    for method_name in settings.create_replica_methods:
        method = _method(settings, method_name)
        if method is None:
            log.warning("replica method %s is not configured", method_name)
            failures.append(f"{method_name}: not configured")
            continue
        targets: Sequence[Upstream | None] = sources or ([None] if method.no_leader else [])
        for source in targets:
            if job.cancel.is_set():
                return Result.failure("replica creation cancelled")
            result = _try(job, method, source)
            if result.ok:
                return Result.success(f"{method.name} from {_source_name(source)}: {result.detail}")
            failures.append(f"{method.name} from {_source_name(source)}: {result.detail}")
            log.warning("replica method %s failed: %s", method.name, result.detail)
    return Result.failure("no replica method succeeded:\n" + "\n".join(failures))


def _source_name(source: Upstream | None) -> str:
    return source.name if source is not None else "(no leader)"


def _try(job: _Job, method: ReplicaMethod, source: Upstream | None) -> Result:
    settings = job.settings
    if not method.keep_data and not is_dir_empty(settings.data_dir):
        if server_running(settings.data_dir):
            return Result.failure("PostgreSQL is running on the data directory")
        log.warning("wiping %s before replica method %s", settings.data_dir, method.name)
        clear_dir(settings.data_dir)
    if method.name == BASEBACKUP:
        assert source is not None
        return basebackup(
            settings,
            source,
            progress=job.progress,
            cancel=job.cancel,
            application_name=f"{job.name}_basebackup",
        )
    return _run_custom(settings, method, source, scope=job.scope, cancel=job.cancel)


def custom_args(
    settings: PostgresSettings, method: ReplicaMethod, source: Upstream | None, scope: str
) -> list[str]:
    args = [*shlex.split(method.command), f"--scope={scope}", f"--datadir={settings.data_dir}"]
    args.append("--role=replica")
    if source is not None:
        repl = settings.authentication.replication.username
        args.append(f"--connstring=postgresql://{repl}@{source.host}:{source.port}/postgres")
    return args + [f"--{key}={value}" for key, value in method.options.items()]


def _run_custom(
    settings: PostgresSettings,
    method: ReplicaMethod,
    source: Upstream | None,
    *,
    scope: str,
    cancel: threading.Event,
) -> Result:
    user = os_user(settings)
    prepare_dir(settings.data_dir, user)
    repl = settings.authentication.replication
    line = passfile_line(repl.username, repl.password or "")
    with private_file(ensure_run_dir(settings, user), user, line, "pgpass-") as passfile:
        args = custom_args(settings, method, source, scope)
        code = _run_cancellable(args, user, child_env(user, {"PGPASSFILE": passfile}), cancel)
    if code is None:
        return Result.failure("cancelled")
    if code != 0:
        return Result.failure(f"{method.command} exited with {code}")
    if not os.path.exists(os.path.join(settings.data_dir, "PG_VERSION")):
        return Result.failure(f"{method.command} succeeded but left no cluster")
    prepare_dir(settings.data_dir, user)  # PostgreSQL insists on 0700
    return Result.success("done")


def _run_cancellable(
    args: list[str], user: OsUser, env: dict[str, str], cancel: threading.Event
) -> int | None:
    """The exit code, or None when ``cancel`` ended the command."""
    log.info("running replica method %s", args[0])
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            **spawn_kwargs(user),
        )
    except OSError as exc:
        log.warning("cannot run %s: %s", args[0], exc)
        return 127
    while proc.poll() is None:
        if cancel.wait(POLL_S):
            kill_group(proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            return None
    return proc.returncode
