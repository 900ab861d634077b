"""pgactor ctl, in process, against real ConsoleActors on loopback (a fake HA actor behind)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from console_support import (  # type: ignore[import-not-found]
    free_port,
    start_node,
    status,
    write_ctl_file,
)

from messages.admin import RestartRequest, SwitchoverRequest
from messages.config import DynamicConfig
from messages.dcs import SetConfig
from node.cli import main

Run = tuple[int, str, str]


def ctl(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = main(["ctl", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def node(keys: Path) -> Any:
    started = start_node(keys)
    started.push(status())
    return started


@pytest.fixture
def ctl_file(tmp_path: Path, keys: Path, node: Any) -> str:
    return str(write_ctl_file(tmp_path / "ctl.yaml", keys, [node.address]))


def answers(monkeypatch: pytest.MonkeyPatch, *replies: str) -> None:
    queue = list(replies)
    monkeypatch.setattr("builtins.input", lambda prompt="": queue.pop(0))


def test_list_prints_the_members_as_a_table(capsys: Any, ctl_file: str) -> None:
    code, out, _ = ctl(capsys, "-c", ctl_file, "list")
    assert code == 0
    assert "+ Cluster: demo" in out
    assert "| node2  | 127.0.0.1:5434 | Replica | running |  1 |        10 |" in out


def test_list_as_json_and_options_after_the_command(capsys: Any, ctl_file: str) -> None:
    code, out, _ = ctl(capsys, "list", "-c", ctl_file, "--format", "json")
    assert code == 0
    assert [row["Member"] for row in json.loads(out)] == ["node1", "node2", "node3"]


def test_topology_and_history(capsys: Any, ctl_file: str) -> None:
    assert ctl(capsys, "-c", ctl_file, "topology")[1].count("+ node") == 2
    code, out, _ = ctl(capsys, "-c", ctl_file, "history", "-f", "yaml")
    assert code == 0 and yaml.safe_load(out) == []


def test_switchover_with_force_asks_the_ha_actor(capsys: Any, ctl_file: str, node: Any) -> None:
    code, out, _ = ctl(
        capsys, "-c", ctl_file, "switchover", "--candidate", "node2", "--force", "--wait", "0"
    )
    assert (code, out.strip()) == (0, "done")
    assert node.switchovers() == [("node1", "node2")]


def test_switchover_asks_for_confirmation_and_no_means_nothing_happens(
    capsys: Any, ctl_file: str, node: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers(monkeypatch, "n")
    code, _, err = ctl(capsys, "-c", ctl_file, "switchover", "--candidate", "node2")
    assert (code, err.strip()) == (1, "Aborted")
    assert node.ha_received() == []
    answers(monkeypatch, "y")
    code, _, _ = ctl(capsys, "-c", ctl_file, "switchover", "--candidate", "node3", "--wait", "0")
    assert code == 0 and len(node.ha_received()) == 1


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["switchover", "--leader", "node2", "--force"], 1, "node2 is not the leader"),
        (["switchover", "--candidate", "node9", "--force"], 1, "node9 is not a member"),
        (["switchover", "--scheduled", "2020-01-01T00:00:00+00:00", "--force"], 2, "in the past"),
        (["switchover", "--scheduled", "tomorrow", "--force"], 2, "ISO 8601"),
        (["failover", "--force"], 2, "needs a candidate"),
    ],
)
def test_switchovers_that_cannot_work_are_refused_before_anything_is_sent(
    capsys: Any, ctl_file: str, node: Any, args: list[str], code: int, needle: str
) -> None:
    got, _, err = ctl(capsys, "-c", ctl_file, *args)
    assert got == code and needle in err
    assert node.ha_received() == []


def test_a_scheduled_switchover_carries_the_time(capsys: Any, ctl_file: str, node: Any) -> None:
    at = "2099-01-01T10:00:00+00:00"
    code, _, _ = ctl(capsys, "-c", ctl_file, "switchover", "--scheduled", at, "--force")
    assert code == 0
    (sent,) = node.ha_received()
    assert isinstance(sent, SwitchoverRequest) and sent.scheduled_at == 4070944800.0


def test_restart_goes_to_the_named_members_own_console(
    capsys: Any, ctl_file: str, node: Any
) -> None:
    code, out, _ = ctl(capsys, "-c", ctl_file, "restart", "node1", "--role", "replica", "--force")
    assert (code, out.strip()) == (0, "done")
    assert isinstance(node.ha_received()[0], RestartRequest)
    code, _, err = ctl(capsys, "-c", ctl_file, "restart", "node2", "--force")
    assert code == 1 and "no console answers as node2 (answering: node1)" in err


def test_edit_config_with_set_shows_the_diff_and_writes_compare_and_set(
    capsys: Any, ctl_file: str, node: Any
) -> None:
    code, out, _ = ctl(
        capsys, "-c", ctl_file, "edit-config", "--set", "ttl=40",
        "--set", "postgresql.parameters.work_mem=8MB", "--force",
    )  # fmt: skip
    assert code == 0
    assert "-ttl: 30\n+ttl: 40" in out and "+    work_mem: 8MB" in out
    (write,) = node.ha_received()
    assert isinstance(write, SetConfig)
    assert write.config.ttl_s == 40 and write.config.postgresql_parameters == {"work_mem": "8MB"}
    assert write.expected == DynamicConfig()


def test_edit_config_rejects_an_invalid_edit(capsys: Any, ctl_file: str, node: Any) -> None:
    code, _, err = ctl(capsys, "-c", ctl_file, "edit-config", "--set", "ttl=-1", "--force")
    assert code == 1 and "ttl: must be > 0" in err
    assert node.ha_received() == []


def test_show_config_pause_and_version(capsys: Any, ctl_file: str, node: Any) -> None:
    code, out, _ = ctl(capsys, "-c", ctl_file, "show-config")
    assert code == 0 and yaml.safe_load(out)["ttl"] == 30
    assert ctl(capsys, "-c", ctl_file, "pause")[0] == 0
    assert [m.config.pause for m in node.ha_received() if isinstance(m, SetConfig)] == [True]
    code, out, _ = ctl(capsys, "-c", ctl_file, "version")
    assert code == 0 and "node1: pgactor 9.9" in out


def test_a_node_that_is_not_there_is_a_clear_error_and_exit_3(
    capsys: Any, tmp_path: Path, keys: Path
) -> None:
    absent = f"127.0.0.1:{free_port()}"
    path = write_ctl_file(tmp_path / "down.yaml", keys, [absent])
    code, _, err = ctl(capsys, "-c", str(path), "list")
    assert code == 3
    assert "no node answered" in err and f"{absent} is not listening" in err


def test_a_node_that_answers_too_late_is_a_clear_error(
    capsys: Any, tmp_path: Path, keys: Path
) -> None:
    slow = start_node(keys, reply=None)  # its HA actor never answers
    slow.push(status())
    path = write_ctl_file(tmp_path / "slow.yaml", keys, [slow.address])
    code, _, err = ctl(capsys, "-c", str(path), "failover", "--candidate", "node2", "--force")
    assert code == 1 and "did not answer" in err


def test_an_unauthorised_key_is_refused(capsys: Any, tmp_path: Path, keys: Path, node: Any) -> None:
    path = write_ctl_file(tmp_path / "intruder.yaml", keys, [node.address], client="intruder")
    code, _, err = ctl(capsys, "-c", str(path), "list")
    assert code == 3 and "refused our key" in err


def test_any_answering_node_will_do(capsys: Any, tmp_path: Path, keys: Path, node: Any) -> None:
    path = write_ctl_file(tmp_path / "two.yaml", keys, [f"127.0.0.1:{free_port()}", node.address])
    assert ctl(capsys, "-c", str(path), "list")[0] == 0


# -- finding the cluster ----------------------------------------------------------------


def test_the_cluster_comes_from_the_environment_then_the_demo_dir(
    capsys: Any, ctl_file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = ctl(capsys, "list")
    assert code == 2 and "no cluster given" in err and "no-demo/ctl.yaml" in err
    monkeypatch.setenv("PGACTOR_CTL_CONFIG", ctl_file)
    assert ctl(capsys, "list")[0] == 0
    monkeypatch.delenv("PGACTOR_CTL_CONFIG")
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "ctl.yaml").write_text(Path(ctl_file).read_text())
    monkeypatch.setenv("PGACTOR_DEMO_DIR", str(demo))
    assert ctl(capsys, "list")[0] == 0


def test_a_node_config_names_its_console_and_keys(
    capsys: Any, tmp_path: Path, keys: Path, node: Any
) -> None:
    config = {
        "scope": "demo",
        "name": "node1",
        "gossip": {"listen": "127.0.0.1:7000", "curve_keys_dir": str(keys)},
        "console": {"listen": node.address},
    }
    path = tmp_path / "pgactor.yaml"
    path.write_text(yaml.safe_dump(config))
    assert ctl(capsys, "-c", str(path), "list")[0] == 0


def test_a_broken_ctl_file_says_what_is_wrong(capsys: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("console: [127.0.0.1:1]\nserver_key: /nonexistent/server.key\n")
    code, _, err = ctl(capsys, "-c", str(path), "list")
    assert code == 2 and "client_key: required" in err
