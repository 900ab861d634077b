"""The REST API: Patroni-compatible health checks, status and admin actions over HTTP.

:class:`ApiActor` is the shell; the plain code it drives lives beside it:
``health`` (check rules), ``views`` (Patroni's JSON shapes), ``switchover``,
``pg_actions`` and ``config_json`` (request validation), ``routes`` and
``admin_routes`` (the endpoint table and its handlers), ``context`` (asking
other actors), ``replies`` (answers told back), ``openapi`` (the document
made from the table), ``server`` (the listening socket and an accept loop
that never waits), ``admission`` (which connection gets a thread), ``handler``
and ``deadline`` (one request, bounded in time and size), ``auth`` and
``tls``.
"""

from __future__ import annotations

from actors.api.actor import ApiActor

__all__ = ["ApiActor"]
