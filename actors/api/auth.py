"""Who may change the cluster: HTTP basic auth and TLS client certificates.

Reading endpoints are open, because load balancers and probes cannot
authenticate; every action (POST, PUT, PATCH, DELETE) passes this gate.
Unlike Patroni, an API with no credentials configured refuses actions (401)
rather than serving them to whoever reaches the port: the operator either
sets ``restapi.authentication`` (basic auth, as in Patroni), serves TLS with
``verify_client`` (a verified client certificate is a credential), or opts
out with ``restapi.allow_unauthenticated_actions``.  When ``verify_client``
is set, an action also needs a verified client certificate (with
``optional`` the TLS handshake lets a client in without one, so the check
here is what makes actions safe).  Credentials are compared in constant time
so a timing probe learns nothing.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from actors.api.responses import Response, text_response
from messages.config import RestApiSettings

ACTION_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CHALLENGE = (("WWW-Authenticate", 'Basic realm="pgactor"'),)
NO_CREDENTIALS_CONFIGURED = (
    "actions need credentials, and this node has none configured: "
    "set restapi.authentication (or restapi.allow_unauthenticated_actions: true)"
)


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


def verifies_client_certificates(settings: RestApiSettings) -> bool:
    return bool(settings.certfile) and settings.verify_client in ("required", "optional")


def actions_are_open(settings: RestApiSettings) -> bool:
    """Whether anyone who reaches the port may act: no credential of any kind is asked."""
    return (
        settings.username is None
        and not verifies_client_certificates(settings)
        and settings.allow_unauthenticated_actions
    )


def authorize(
    settings: RestApiSettings, *, authorization: str | None, client_cert: bool
) -> Response | None:
    """None when the action may proceed, else the refusal to send."""
    if settings.verify_client in ("required", "optional") and not client_cert:
        return text_response(403, "client certificate required")
    if settings.username is not None:
        if credentials_match(authorization, settings.username, settings.password or ""):
            return None
        return text_response(401, "authentication required", headers=_CHALLENGE)
    if client_cert or settings.allow_unauthenticated_actions:
        return None  # the verified certificate is the credential, or the operator opted out
    return text_response(401, NO_CREDENTIALS_CONFIGURED, headers=_CHALLENGE)
