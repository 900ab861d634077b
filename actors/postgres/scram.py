"""SCRAM-SHA-256 password verifiers, computed here so no password reaches the server.

``ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`` stores a verifier as given,
so the clear-text password is never part of a statement that log_statement,
an error report or pg_stat_statements could keep.  The format and the
SASLprep normalisation follow PostgreSQL's ``pg_be_scram_build_secret``: a
password that SASLprep rejects is used as raw bytes, as PostgreSQL does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata

ITERATIONS = 4096

_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
    stringprep.in_table_a1,
)


def saslprep(password: str) -> str | None:
    """RFC 4013 SASLprep, or None when the password is not valid input for it."""
    if password.isascii():
        return password  # PostgreSQL's fast path: ASCII passes through unchanged
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in password if not stringprep.in_table_b1(c)
    )
    normalized = unicodedata.normalize("NFKC", mapped)
    if not normalized or any(check(c) for c in normalized for check in _PROHIBITED):
        return None
    if any(stringprep.in_table_d1(c) for c in normalized):
        if any(stringprep.in_table_d2(c) for c in normalized):
            return None
        if not (stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1])):
            return None
    return normalized


def verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    prepared = saslprep(password)
    secret = (prepared if prepared is not None else password).encode("utf-8")
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", secret, salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
