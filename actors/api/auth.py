"""Who may change the cluster: HTTP basic auth and TLS client certificates.

Reading endpoints are open, because load balancers and probes cannot
authenticate; every action (POST, PUT, PATCH, DELETE) passes this gate, as in
Patroni.  When ``verify_client`` is set, an action also needs a verified
client certificate (with ``optional`` the TLS handshake lets a client in
without one, so the check here is what makes actions safe).  Credentials are
compared in constant time so a timing probe learns nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from actors.api.responses import Response, text_response
from messages.config import RestApiSettings

ACTION_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CHALLENGE = (("WWW-Authenticate", 'Basic realm="pgactor"'),)


def credentials_match(header: str | None, username: str, password: str) -> bool:
    """Whether an Authorization header carries exactly these basic credentials."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text in the header
        return False
    return hmac.compare_digest(given, f"{username}:{password}".encode())


def authorize(
    settings: RestApiSettings, *, authorization: str | None, client_cert: bool
) -> Response | None:
    """None when the action may proceed, else the refusal to send."""
    if settings.verify_client in ("required", "optional") and not client_cert:
        return text_response(403, "client certificate required")
    if settings.username is None:
        return None
    if credentials_match(authorization, settings.username, settings.password or ""):
        return None
    return text_response(401, "authentication required", headers=_CHALLENGE)
