"""Node logging: node and actor on every record, JSON lines, the SIGUSR1 stack dump."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import threading

import pytest

from node.logs import setup_logging

pytestmark = pytest.mark.usefixtures("restore_logging")


def _log_from_thread(name: str, message: str, *args: object) -> None:
    thread = threading.Thread(
        target=lambda: logging.getLogger("actors.ha").info(message, *args), name=name
    )
    thread.start()
    thread.join()


def test_json_format_emits_one_parseable_object_per_line() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "json", "node1", stream=stream)
    _log_from_thread("HaActor-3", "decided %s because %s", "promote", "leader_gone")
    logging.getLogger("node").debug("below the level")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["node"] == "node1"
    assert record["actor"] == "HaActor-3"
    assert record["logger"] == "actors.ha"
    assert record["level"] == "INFO"
    assert record["msg"] == "decided promote because leader_gone"
    assert record["exc"] is None
    assert record["ts"].endswith("+00:00")


def test_json_format_carries_the_exception() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "json", "node1", stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    record = json.loads(stream.getvalue())
    assert "RuntimeError: boom" in record["exc"]


def test_text_format_names_the_node_and_the_actor() -> None:
    stream = io.StringIO()
    setup_logging("DEBUG", "text", "node2", stream=stream)
    _log_from_thread("PostmasterActor-1", "started")
    assert " INFO [node2] PostmasterActor-1 actors.ha: started" in stream.getvalue()


def test_setting_up_twice_does_not_duplicate_lines() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "text", "node1", stream=stream)
    setup_logging("INFO", "text", "node1", stream=stream)
    logging.getLogger("x").info("once")
    assert stream.getvalue().count("once") == 1


def test_sigusr1_logs_the_stack_of_every_thread() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "json", "node1", stream=stream)
    parked = threading.Event()
    thread = threading.Thread(target=parked.wait, name="LeaderLockActor-1")
    thread.start()
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
    finally:
        parked.set()
        thread.join()
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    dumped = "\n".join(r["msg"] for r in records)
    assert "stack of thread LeaderLockActor-1" in dumped
    assert "stack of thread MainThread" in dumped
    assert "parked.wait" in dumped or "in wait" in dumped
