"""Which etcd keys an idle cluster rewrites, and which of their fields changed.

etcd keeps every revision until it compacts, so after a window a watch that
starts at the window's first revision replays each write made during it.  Per
key: how many writes, how many of them left the value (and lease) as it was (a
rewrite an observer gains nothing from), and the JSON fields (and ``<lease>``)
that differed from the previous write, the first one compared with the value
the key held just before the window.  Used by idle.py.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.request
from typing import Any


def revision(port: int) -> int:
    """etcd's current revision."""
    body = json.dumps({"key": base64.b64encode(b"\0").decode()}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/kv/range", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return int(json.load(r)["header"]["revision"])


def _events(port: int, start: int, end: int) -> list[dict[str, Any]]:
    """Every event of revisions start..end, from a watch over all keys."""
    if end < start:
        return []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    everything = base64.b64encode(b"\0").decode()
    request = {"create_request": {"key": everything, "range_end": everything}}
    request["create_request"]["start_revision"] = str(start)  # type: ignore[index]
    try:
        conn.request("POST", "/v3/watch", body=json.dumps(request))
        response = conn.getresponse()
        events: list[dict[str, Any]] = []
        while not events or int(events[-1]["kv"]["mod_revision"]) < end:
            line = response.readline()
            if not line:
                break
            events += json.loads(line).get("result", {}).get("events", [])
        return [e for e in events if int(e["kv"]["mod_revision"]) <= end]
    finally:
        conn.close()


def _value_at(port: int, key: str, at: int) -> dict[str, Any] | None:
    """The key-value (JSON gateway form) as of revision ``at``; None when absent."""
    body = json.dumps({"key": key, "revision": str(at)}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/kv/range", data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        kvs: list[dict[str, Any]] = json.load(r).get("kvs", [])
    return kvs[0] if kvs else None


def _fields(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"<raw>": raw.decode(errors="replace")}
    return value if isinstance(value, dict) else {"<value>": value}


def writes_by_key(port: int, start: int, end: int) -> dict[str, dict[str, Any]]:
    """key -> {"writes": n, "same_value": n, "changed_fields": [...]} for start..end."""
    report: dict[str, dict[str, Any]] = {}
    last: dict[str, tuple[bytes, str]] = {}
    for event in _events(port, start, end):
        kv = event["kv"]
        key = base64.b64decode(kv["key"]).decode(errors="replace")
        value = base64.b64decode(kv.get("value", "")), kv.get("lease", "0")
        if key not in last and (before_window := _value_at(port, kv["key"], start - 1)):
            last[key] = (
                base64.b64decode(before_window.get("value", "")),
                before_window.get("lease", "0"),
            )
        row = report.setdefault(key, {"writes": 0, "same_value": 0, "changed_fields": set()})
        row["writes"] += 1
        if key in last:
            if last[key] == value:
                row["same_value"] += 1
            before = {**_fields(last[key][0]), "<lease>": last[key][1]}
            after = {**_fields(value[0]), "<lease>": value[1]}
            row["changed_fields"] |= {
                k for k in before.keys() | after.keys() if before.get(k) != after.get(k)
            }
        last[key] = value
    return {k: {**v, "changed_fields": sorted(v["changed_fields"])} for k, v in report.items()}
