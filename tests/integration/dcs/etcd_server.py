"""A real etcd process for tests: free loopback ports, a temp data dir, killed by PID.

The process gets PR_SET_PDEATHSIG so it dies with the test run even if pytest
itself is killed; normal teardown kills it explicitly and waits for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"
_PR_SET_PDEATHSIG = 1


sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
from freeport import free_port  # noqa: E402  (one for every suite: scripts/freeport.py)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class EtcdServer:
    """One single-member etcd cluster on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.client_port = free_port()
        self.peer_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self, timeout_s: float = 20.0) -> None:
        peer = f"http://127.0.0.1:{self.peer_port}"
        args = [
            ETCD_BINARY,
            "--name", "t",
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"t={peer}",
        ]  # fmt: skip
        log = (self.workdir / "etcd.log").open("ab")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
        log.close()
        self._wait_healthy(timeout_s)

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.process.returncode}: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/health", timeout=1) as answer,
            ):
                if b'"true"' in answer.read():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"etcd not healthy after {timeout_s}s: {self.log_tail()}")

    def stop(self) -> None:
        """Kill the process by PID (SIGCONT first, in case a test left it stopped)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def restart(self) -> None:
        """Kill and start again on the same ports and data: every connection drops."""
        self.stop()
        self.start()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP the server: connections stay open but nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            self._wait_stopped(self.process.pid)
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    @staticmethod
    def _wait_stopped(pid: int, timeout_s: float = 2.0) -> None:
        """Until every thread is stopped: kill() returns before a running thread halts."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = set()
            for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
                with contextlib.suppress(OSError):
                    states.add(stat.read_text().rsplit(")", 1)[1].split()[0])
            if states <= {"T", "t"}:
                return
            time.sleep(0.001)
        raise RuntimeError(f"etcd {pid} did not stop")

    def log_tail(self, lines: int = 20) -> str:
        path = self.workdir / "etcd.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
