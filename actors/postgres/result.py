"""The outcome of one PostgreSQL control operation, as plain data.

Operations on the server (start, stop, promote, base backup, rewind...) fail
in ordinary ways: a timeout, a refused connection, a tool exiting nonzero.
Those are answers, not exceptions; the actor shells turn a :class:`Result`
into an event.  ``detail`` is human text for logs and the API: it never holds
a password (commands are logged by argument list, passwords travel in files).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    ok: bool
    detail: str = ""
    escalated: bool = False
    """A stop went past its timeout and was escalated (immediate, then SIGKILL)."""
    data_dir_removed: bool = False
    """The data directory was removed (failed rewind with removal configured)."""

    @classmethod
    def success(cls, detail: str = "", **fields: bool) -> Result:
        return cls(ok=True, detail=detail, **fields)

    @classmethod
    def failure(cls, detail: str, **fields: bool) -> Result:
        return cls(ok=False, detail=detail, **fields)
