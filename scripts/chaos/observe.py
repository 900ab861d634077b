"""What the members say they are: their REST API's /patroni, polled every 0.25 s.

The chaos client runs :func:`observe_loop` beside its writers; it keeps the
latest roles in ``DIR/roles.json`` (the runner reads it to know the primary)
and every change in ``DIR/roles.jsonl``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

OBSERVE_EVERY = 0.25
HTTP_TIMEOUT = 1.0


class Observed(Protocol):
    name: str
    api: str  # base URL of its REST API, no trailing slash


def fetch_status(api: str) -> dict[str, Any] | None:
    """The member's GET /patroni body, or None if it did not answer."""
    try:
        with urllib.request.urlopen(f"{api}/patroni", timeout=HTTP_TIMEOUT) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:  # a 503 still says what state it is in
        try:
            body = json.load(e)
        except (OSError, ValueError):
            return None
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def derive_role(body: dict[str, Any] | None) -> str:
    if body is None:
        return "down"
    if body.get("state") != "running":
        return str(body.get("state"))
    if body.get("role") == "primary":
        return "primary"
    return "streaming" if body.get("replication_state") == "streaming" else "replica"


def poll(members: Sequence[Observed]) -> list[dict[str, Any] | None]:
    # Concurrently, so a partitioned member costs one timeout, not one each;
    # daemon threads, so one that hangs past its timeout never blocks exit
    bodies: list[dict[str, Any] | None] = [None] * len(members)

    def one(i: int) -> None:
        bodies[i] = fetch_status(members[i].api)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(members))]
    for t in threads:
        t.start()
    deadline = time.monotonic() + HTTP_TIMEOUT + 0.5
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return list(bodies)  # a copy: a late thread must not change what we report


def snapshot(
    members: Sequence[Observed], bodies: Sequence[dict[str, Any] | None]
) -> dict[str, Any]:
    roles = {m.name: derive_role(b) for m, b in zip(members, bodies, strict=True)}
    timelines = {
        m.name: b["timeline"]
        for m, b in zip(members, bodies, strict=True)
        if b is not None and type(b.get("timeline")) is int
    }
    return {"t": time.monotonic(), "roles": roles, "timelines": timelines}


def observe_loop(members: Sequence[Observed], out: Path, stop: threading.Event) -> None:
    previous: object = None
    with (out / "roles.jsonl").open("a", encoding="utf-8") as changes:
        while not stop.is_set():
            began = time.monotonic()
            snap = snapshot(members, poll(members))
            tmp = out / "roles.json.tmp"
            tmp.write_text(json.dumps(snap))
            os.replace(tmp, out / "roles.json")  # readers never see half a file
            if snap["roles"] != previous:
                changes.write(json.dumps(snap) + "\n")
                changes.flush()
                previous = snap["roles"]
            stop.wait(max(0.0, OBSERVE_EVERY - (time.monotonic() - began)))
