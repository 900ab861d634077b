"""How PostgreSQL makes a crashed data directory durable before replaying WAL: syncfs.

After a crash (a killed postmaster, the host still up) PostgreSQL first
fsyncs every file of the data directory, one by one, before crash recovery
(``recovery_init_sync_method = fsync``, its default): about a thousand open,
fsync and close on a small cluster.  Each fsync that waits for the disk gives
up the CPU, and on a busy host the startup process then waits for a core
every time.  Measured under two CPU hogs on two cores (issue 16, see
docs/BENCHMARKS.md), that walk took 2.2 s of a leader's 2.4 s restart, against
0.13 s on a quiet machine; ``syncfs``, which asks the kernel to flush the file
systems holding the data directory, the WAL and each tablespace in one call
each, took 0.12 s under the same hogs.

Both are PostgreSQL's own modes and make the same files durable.  PostgreSQL's
documentation gives two caveats for syncfs: before Linux 5.8 the kernel did not
report write-back errors to syncfs's caller, and syncfs also writes out other
programs' dirty files on the same file system.  So pgactor chooses syncfs only
on Linux 5.8 or later, for PostgreSQL 14 or later (where the setting exists),
as a default: a value in the cluster's or the node's parameters wins.
"""

from __future__ import annotations

import os
import platform
import re
import sys

PARAMETER = "recovery_init_sync_method"
SINCE_PG = 14
SINCE_LINUX = (5, 8)
"""Linux reports write-back errors to syncfs's caller from 5.8 on (errseq per file system)."""


def default(pg_major: int | None, system: str, kernel_release: str) -> dict[str, str]:
    """pgactor's default for :data:`PARAMETER`: syncfs where it is as safe as fsync
    (see above), else nothing (PostgreSQL's own default, fsync)."""
    if pg_major is None or pg_major < SINCE_PG or system != "linux":
        return {}
    kernel = kernel_version(kernel_release)
    if kernel is None or kernel < SINCE_LINUX:
        return {}
    return {PARAMETER: "syncfs"}


def kernel_version(release: str) -> tuple[int, int] | None:
    """(major, minor) of a kernel release such as ``6.1.0-18-amd64``; None if unreadable."""
    found = re.match(r"(\d+)\.(\d+)", release)
    return (int(found.group(1)), int(found.group(2))) if found else None


def pg_major(data_dir: str) -> int | None:
    """The major version in the data directory's PG_VERSION (``15``), None if unknown."""
    try:
        with open(os.path.join(data_dir, "PG_VERSION"), encoding="ascii") as fh:
            text = fh.read().strip()
    except (OSError, ValueError):
        return None
    found = re.match(r"(\d+)", text)
    return int(found.group(1)) if found else None


def here(data_dir: str) -> dict[str, str]:
    """:func:`default` for this host and the cluster in ``data_dir``."""
    return default(pg_major(data_dir), sys.platform, platform.release())
