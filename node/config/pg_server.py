"""Asking the configured PostgreSQL binaries about parameter values, with no server running.

Two questions, each a short run of ``<bin_dir>/postgres``:

- its catalogue: ``postgres --describe-config`` lists every parameter with
  its type, context and range (:func:`describe`);
- its verdict on the configured values: ``postgres -C server_version -D DIR
  -c name=value ...`` parses every ``-c`` value exactly as a starting server
  would (units, enums and their unlisted spellings, ranges, check hooks)
  and stops at the first it refuses, naming it (:func:`refusals`).  DIR is
  an empty directory with an empty postgresql.conf; nothing is started and
  nothing else is read.  The run repeats without each refused value, so
  every bad value is found.

PostgreSQL refuses ``-C`` to root, so as root both run as the configured OS
user (``postgres`` by default), as the node runs the server.  Binaries that
cannot be run are not a config error -- the file may be checked on another
host -- but a warning: the values then go unchecked (:func:`parameter_problems`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from messages.pg_parameters import Catalogue, parameter_problems_in, parse_describe_config

log = logging.getLogger(__name__)

RUN_TIMEOUT_S = 10.0
_MESSAGE = re.compile(r"\b(FATAL|ERROR|DETAIL|HINT):\s+(.*)$")
_NAMED = re.compile(r'parameter "([^"]+)"')


class ServerUnavailable(Exception):
    """The binaries could not be asked; the text says why."""


def run_as(os_user: str | None) -> str | None:
    """The OS user to run PostgreSQL's binaries as: the configured one (postgres) under root."""
    if os.geteuid() != 0:
        return None
    user = os_user or "postgres"
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise ServerUnavailable(f"no OS user {user!r} to run PostgreSQL as") from None
    return user


def _run(
    argv: list[str], user: str | None, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    if not Path(argv[0]).is_file():
        raise ServerUnavailable(f"no {argv[0]}")
    try:
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
            user=user,
            cwd=cwd,
            env={"LC_ALL": "C", "PATH": os.defpath},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ServerUnavailable(f"{argv[0]} {argv[1]} failed ({exc})") from None


def describe(bin_dir: str, user: str | None) -> Catalogue:
    """The server's catalogue, from ``postgres --describe-config``."""
    done = _run([str(Path(bin_dir) / "postgres"), "--describe-config"], user)
    catalogue = parse_describe_config(done.stdout)
    if done.returncode != 0 or not catalogue:
        raise ServerUnavailable(f"postgres --describe-config gave nothing ({done.stderr.strip()})")
    return catalogue


@contextlib.contextmanager
def _empty_data_dir(user: str | None) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="pgactor-check-") as directory:
        conf = Path(directory) / "postgresql.conf"
        conf.touch()
        if user is not None:
            for path in (directory, conf):
                os.chown(path, pwd.getpwnam(user).pw_uid, -1)
        yield directory


def _refused(stderr: str, names: Mapping[str, str]) -> tuple[str, str] | None:
    """The configured name the server refused and its words, from its log lines."""
    lines = [m.group(2) for line in stderr.splitlines() if (m := _MESSAGE.search(line))]
    named = _NAMED.search(lines[0]) if lines else None
    if named is None or named.group(1).lower() not in names:
        return None
    return names[named.group(1).lower()], "; ".join(lines)


def refusals(bin_dir: str, user: str | None, parameters: Mapping[str, str]) -> dict[str, str]:
    """Each configured parameter the server refuses, with the server's own words."""
    try:
        with _empty_data_dir(user) as data_dir:
            return _ask(str(Path(bin_dir) / "postgres"), user, data_dir, parameters)
    except OSError as exc:  # no temporary directory to be had
        raise ServerUnavailable(f"cannot prepare a directory to ask in ({exc})") from None


def _ask(
    postgres: str, user: str | None, data_dir: str, parameters: Mapping[str, str]
) -> dict[str, str]:
    remaining, refused = dict(parameters), dict[str, str]()
    while True:
        argv = [postgres, "-C", "server_version", "-D", data_dir]
        for name, value in remaining.items():
            argv += ["-c", f"{name}={value}"]
        done = _run(argv, user, cwd=data_dir)
        if done.returncode == 0:
            return refused
        found = _refused(done.stderr, {name.lower(): name for name in remaining})
        if found is None:
            raise ServerUnavailable(f"postgres -C failed: {done.stderr.strip()[-300:]}")
        refused[found[0]] = found[1]
        del remaining[found[0]]


def parameter_problems(
    bin_dir: str, os_user: str | None, settings: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Problems with every set of parameters (keyed by its path in the file), as the
    configured server sees them; none, with a warning, when it cannot be asked."""
    wanted = {path: values for path, values in settings.items() if values}
    if not wanted:
        return []
    try:
        user = run_as(os_user)
        catalogue = describe(bin_dir, user)
    except ServerUnavailable as exc:
        log.warning("%s not checked against PostgreSQL: %s", " and ".join(wanted), exc)
        return []
    problems = []
    for path, values in wanted.items():
        try:
            verdicts: dict[str, str] | None = refusals(bin_dir, user, values)
        except ServerUnavailable as exc:
            log.warning("%s checked by its catalogue only: %s", path, exc)
            verdicts = None
        problems += parameter_problems_in(path, values, catalogue, verdicts)
    return problems
