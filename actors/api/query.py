"""Health-check query parameters: ``lag`` and ``tag_<name>`` filters.

These are written once into a load balancer's check URL
(``/replica?lag=16MB&tag_nosync=false``).  A ``lag`` this module cannot
read is answered 400 rather than ignored: Patroni ignores it, which silently
turns the check into "any replica, however far behind"; a 400 marks the
backend down at once and shows up in the load balancer's log.  Parameters
other than ``lag`` and ``tag_*`` are ignored, as Patroni does (cache-busting
parameters are common).
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse

TAG_PREFIX = "tag_"
MAX_QUERY_FIELDS = 64
"""More fields than any sane check URL needs; refusing more bounds the parsing work."""

_LAG = re.compile(r"\s*([0-9]{1,19})\s*([a-z]{0,2})\s*", re.ASCII | re.IGNORECASE)
# PostgreSQL's memory units, as Patroni's parse_int(value, "B") reads them
_UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


class QueryError(ValueError):
    """A query string a health check cannot honour; the text says why."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HealthQuery:
    max_lag_bytes: int | None = None
    """None: no lag limit asked for."""
    tags: tuple[tuple[str, str], ...] = ()
    """(tag name, wanted value) pairs, every one of which must match."""


def parse_lag(value: str) -> int:
    """Bytes from ``1048576``, ``16MB``, ``512 kB``...; QueryError when unreadable."""
    match = _LAG.fullmatch(value)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise QueryError(f"lag must be a byte count such as 1048576 or 16MB, not {value[:40]!r}")
    return int(match.group(1)) * unit


def parse_query(raw: str) -> HealthQuery:
    """The health-check filters in a raw query string (the part after ``?``)."""
    try:
        pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError as exc:  # only raised for too many fields
        raise QueryError(f"bad query string: {exc}") from None
    lag: int | None = None
    tags: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "lag" and lag is None:  # the first wins, as in Patroni
            lag = parse_lag(value)
        elif key.startswith(TAG_PREFIX):
            tags.append((key[len(TAG_PREFIX) :], value))
    return HealthQuery(max_lag_bytes=lag, tags=tuple(tags))
