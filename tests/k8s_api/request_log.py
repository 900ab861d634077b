"""The log of requests the server received, so tests can check a client's verbs.

Every request outside ``/_test/`` is recorded when it arrives (before faults
apply, so refused and failed requests appear too): method, path, content
type and query string.
"""

from __future__ import annotations

import threading
from typing import NamedTuple


class RequestRecord(NamedTuple):
    method: str
    path: str
    content_type: str
    query: str

    def as_dict(self) -> dict[str, str]:
        return self._asdict()


class RequestLog:
    """Thread-safe append-only list of RequestRecord."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
