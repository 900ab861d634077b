"""The data directory as a whole: is a server using it, and removing it safely."""

from __future__ import annotations

import logging

from actors.postgres import procfs
from actors.postgres.oscommand import remove_dir
from actors.postgres.result import Result
from messages.config import PostgresSettings

log = logging.getLogger(__name__)


def server_running(data_dir: str) -> bool:
    pid_file = procfs.read_pid_file(data_dir)
    return pid_file is not None and procfs.is_postmaster_of(pid_file.pid, data_dir)


def remove_data_directory(settings: PostgresSettings) -> Result:
    """Remove the data directory (emptied if a mount point); never under a live server."""
    if server_running(settings.data_dir):
        return Result.failure("PostgreSQL is running on the data directory")
    remove_dir(settings.data_dir)
    log.warning("removed data directory %s", settings.data_dir)
    return Result.success("data directory removed", data_dir_removed=True)
