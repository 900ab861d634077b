"""The pgactor command line, run in process (and once as the installed script)."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from messages.config import NodeConfig
from node import cli
from node.config import load_config

BROKEN = """
scope: demo
name: node1
etcd3: {hosts: "127.0.0.1:2379"}
bootstrap:
  dcs: {ttl: 30, loop_wait: 10, retry_timeout: 15}
postgresql:
  data_dri: /var/lib/postgresql/data
  bin_dir: /usr/lib/postgresql/16/bin
  authentication:
    superuser: {username: postgres, password: super-s3cret}
    replication: {username: replicator}
"""
EXPECTED_PROBLEMS = [
    "  bootstrap.dcs: loop_wait + 2 * retry_timeout must not exceed ttl"
    " (loop_wait=10 + 2 * retry_timeout=15 = 40 > ttl=30)",
    "  postgresql.data_dir: required",
    "  postgresql.data_dri: unknown key (did you mean data_dir?)",
]

pytestmark = pytest.mark.usefixtures("clean_environ")


def test_config_validate_accepts_a_valid_file(
    write_file: Callable[[str], Path], patroni_style_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_file(patroni_style_text)
    assert cli.main(["config", "validate", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: OK\n"


def test_config_validate_lists_every_problem_and_exits_2(
    write_file: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_file(BROKEN)
    assert cli.main(["config", "validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{path}: invalid configuration (3 problems)", *EXPECTED_PROBLEMS]
    assert "super-s3cret" not in err


def test_the_installed_script_validates_a_file(write_file: Callable[[str], Path]) -> None:
    path = write_file(BROKEN)
    script = Path(sys.executable).parent / "pgactor"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGACTOR_", "POD_"))}
    done = subprocess.run(
        [str(script), "config", "validate", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[1:] == EXPECTED_PROBLEMS


def test_config_validate_applies_the_environment(
    write_file: Callable[[str], Path],
    patroni_style_text: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PGACTOR_SCOPPE", "x")
    assert cli.main(["config", "validate", str(write_file(patroni_style_text))]) == 2
    assert "PGACTOR_SCOPPE: unknown environment variable" in capsys.readouterr().err


def test_config_validate_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["config", "validate", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read (No such file or directory)" in capsys.readouterr().err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out == f"pgactor {importlib.metadata.version('pgactor')}\n"


def test_version_falls_back_when_the_package_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert cli.version() == "0.1.0"


@pytest.mark.parametrize("argv", [[], ["bogus"], ["config"], ["node"]])
def test_a_usage_error_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert "usage: pgactor" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "config" in capsys.readouterr().out


@pytest.mark.usefixtures("restore_logging")
def test_node_runs_the_loaded_config_with_logging_set_up(
    write_file: Callable[[str], Path],
    patroni_style_text: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[NodeConfig] = []

    def run_node(config: NodeConfig) -> int:
        started.append(config)
        return 7

    monkeypatch.setattr(cli, "_run_node", lambda: run_node)
    path = write_file(patroni_style_text)
    assert (
        cli.main(["node", "-c", str(path), "--log-format", "json", "--log-level", "warning"]) == 7
    )
    assert [c.name for c in started] == ["node1"]
    assert logging.getLogger().level == logging.WARNING


def test_node_with_an_invalid_config_exits_2_without_starting(
    write_file: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def never() -> Callable[[NodeConfig], int]:
        raise AssertionError("the node must not start")

    monkeypatch.setattr(cli, "_run_node", never)
    assert cli.main(["node", "-c", str(write_file(BROKEN))]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == EXPECTED_PROBLEMS


def test_the_agent_process_keeps_neither_pydantic_nor_yaml_resident() -> None:
    # Validation runs in a child (node.config.emit); the agent needs neither library.
    probe = "import sys, node.cli, node.run; print(sorted({'pydantic', 'yaml'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_config_loaded_in_a_child_is_the_config_loaded_here(
    write_file: Callable[[str], Path], patroni_style_text: str
) -> None:
    path = write_file(patroni_style_text)
    assert cli.load_in_child(str(path)) == load_config(path)
