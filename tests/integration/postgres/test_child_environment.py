"""No child of the agent sees its secrets: PGACTOR_*/PATRONI_* variables stay in the agent.

In a pod the passwords arrive as environment variables (PGACTOR_*_PASSWORD
from the Secret).  A child inherits its parent's environment, which any process
of the same OS user can read in /proc/<pid>/environ, and the postmaster hands
its own on to every backend and archive_command.  Each test sets such
variables in this process, as the pod does, and looks at what real children
got: the postmaster and a backend, initdb's post-bootstrap script, a callback,
a custom replica method.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from actors.postgres.callbacks import CallbackAction, CallbackRunner
from actors.postgres.control import Postmaster
from actors.postgres.oscommand import scrubbed_environ
from actors.postgres.replica import create_replica
from messages.cluster import Role
from messages.config import Callbacks, ReplicaMethod

from .conftest import SCOPE, PgFactory, upstream_of

pytestmark = pytest.mark.integration

SECRETS = {
    "PGACTOR_SUPERUSER_PASSWORD": "pgactor-secret-superuser",
    "PGACTOR_REPLICATION_PASSWORD": "pgactor-secret-replication",
    "PGACTOR__GOSSIP__CURVE_SECRET_KEY": "pgactor-secret-curve",
    "PATRONI_SUPERUSER_PASSWORD": "patroni-secret-superuser",
    "PGPASSWORD": "libpq-secret",
}
KEPT = {"POD_NAME": "pgactor-0"}


@pytest.fixture
def agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SECRETS, **KEPT}.items():
        monkeypatch.setenv(name, value)


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def assert_no_secret(env: dict[str, str], what: str, *, whole: bool = True) -> None:
    leaked = {n for n in env if n.startswith(("PGACTOR_", "PATRONI_")) or n in SECRETS}
    assert not leaked, f"{what} got {sorted(leaked)}"
    for value in SECRETS.values():
        assert value not in "\0".join(env.values()), f"{what} got a secret's value"
    if whole:  # (a backend's process title overwrites the environment /proc shows)
        assert env.get("POD_NAME") == "pgactor-0", f"{what} lost an ordinary variable"


@pytest.fixture
def dumps(pg: PgFactory) -> Path:
    """Where the scripts write what they saw (the postgres OS user runs some of them)."""
    path = Path(pg.base_dir) / "env-dumps"
    path.mkdir(exist_ok=True)
    path.chmod(0o777)
    return path


def dump_env_script(pg: PgFactory, name: str, out: Path, exit_code: int = 0) -> str:
    return pg.script(name, f'env -0 > "{out}"\nchmod 0644 "{out}"\nexit {exit_code}\n')


def read_dump(path: Path) -> dict[str, str]:
    pairs = (item.partition("=") for item in path.read_text().split("\0") if item)
    return {name: value for name, _, value in pairs}


@pytest.mark.usefixtures("agent_env")
def test_the_postmaster_and_its_backends_get_no_secret_of_the_agent(
    pg: PgFactory, dumps: Path
) -> None:
    out = dumps / "post_init.env"
    pm = pg.bootstrap_primary("env-primary", post_init=dump_env_script(pg, "dump_init.sh", out))
    pid = pm.postmaster_pid()
    assert pid is not None
    assert_no_secret(environ_of(pid), "the postmaster")
    su = pm.settings.authentication.superuser
    with (
        psycopg2.connect(
            host="127.0.0.1",
            port=pm.settings.listen_port,
            user=su.username,
            password=su.password,
            dbname="postgres",
            connect_timeout=3,
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT pg_backend_pid()")
        (backend,) = cur.fetchone() or (0,)
        assert_no_secret(environ_of(backend), "a backend", whole=False)
    conn.close()
    assert_no_secret(read_dump(out), "the post-init script")


@pytest.mark.usefixtures("agent_env")
def test_callbacks_and_replica_methods_get_no_secret_of_the_agent(
    pg: PgFactory, primary: Postmaster, dumps: Path
) -> None:
    callback_out, method_out = dumps / "callback.env", dumps / "method.env"
    runner = CallbackRunner(
        Callbacks(on_start=dump_env_script(pg, "dump_cb.sh", callback_out)), SCOPE
    )
    assert runner.run(CallbackAction.ON_START, Role.PRIMARY) is not None
    assert runner.join(10)
    assert_no_secret(read_dump(callback_out), "a callback")

    method = ReplicaMethod(name="dump", command=dump_env_script(pg, "dump_rm.sh", method_out, 1))
    settings = pg.settings(
        "env-replica", create_replica_methods=("dump",), replica_methods=(method,)
    )
    made = create_replica(settings, [upstream_of(primary)], name="env-replica", scope=SCOPE)
    assert not made.ok  # the script fails on purpose, after writing what it saw
    assert_no_secret(read_dump(method_out), "a custom replica method")


def test_the_scrubbed_environment_keeps_everything_else() -> None:
    env = {**SECRETS, **KEPT, "PATH": "/bin", "patroni_lower": "x", "KUBERNETES_PORT": "1"}
    kept = scrubbed_environ(env)
    assert kept == {"POD_NAME": "pgactor-0", "PATH": "/bin", "KUBERNETES_PORT": "1"}
    assert env.keys() >= SECRETS.keys(), "the agent's own environment is not changed"
