"""TLS for the REST API: a server-side SSL context made from the settings.

The context is built before the listening socket is bound, so a bad
certificate path fails the actor's start with a clear error and leaves no
socket behind.  The TLS handshake itself runs in the request's own thread
(see :mod:`actors.api.handler`), never in the accept loop, so one slow or
hostile client cannot stall every other check.
"""

from __future__ import annotations

import ssl

from messages.config import RestApiSettings

_VERIFY = {
    None: ssl.CERT_NONE,
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


def server_context(settings: RestApiSettings) -> ssl.SSLContext | None:
    """The SSL context to serve with, or None for plain HTTP (no certfile)."""
    if not settings.certfile:
        return None
    if settings.verify_client not in _VERIFY:
        raise ValueError(
            f"restapi verify_client must be none, optional or required, "
            f"not {settings.verify_client!r}"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.certfile, settings.keyfile)
    mode = _VERIFY[settings.verify_client]
    if mode is not ssl.CERT_NONE:
        if settings.cafile:
            context.load_verify_locations(cafile=settings.cafile)
        else:
            context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    context.verify_mode = mode
    return context
