"""Value shapes of the config file: addresses, scalars, option lists.

Patroni's YAML carries several compact notations -- ``host:port`` strings,
``host1,host2:port`` listen lists, PostgreSQL parameters given as any YAML
scalar, and command-line options written as a list of strings and one-key
mappings.  This module turns each notation into one canonical value, or raises
``ValueError`` with a message that names what is wrong.  Messages show an
offending value only where it cannot be a secret (addresses, option names).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Mapping
from typing import Any

WILDCARD_HOSTS = frozenset({"*", "0.0.0.0", "::"})
"""Listen hosts that accept connections on every interface: never a connect address."""


@dataclasses.dataclass(frozen=True, slots=True)
class HostPort:
    """One address to connect to or listen on."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclasses.dataclass(frozen=True, slots=True)
class ListenAddress:
    """PostgreSQL's listen_addresses plus its port: ``host[,host...]:port``."""

    hosts: tuple[str, ...]
    port: int

    def sole_host(self) -> str | None:
        """The host others can reach us at, when listen names exactly one concrete host."""
        if len(self.hosts) == 1 and self.hosts[0] not in WILDCARD_HOSTS:
            return self.hosts[0]
        return None


def _split(text: str) -> tuple[str, str]:
    """Split ``host:port`` or ``[v6]:port``; an unbracketed v6 host splits at its last colon."""
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if closed and rest.startswith(":"):
            return host, rest[1:]
    else:
        host, colon, port = text.rpartition(":")
        if colon:
            return host, port
    raise ValueError(f"expected host:port, got {text!r}")


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port must be a number from 1 to 65535, got {text!r}")
    return int(text)


def _host(text: str, whole: str) -> str:
    if not text or any(ch.isspace() or ch in "/@" for ch in text):
        raise ValueError(f"expected host:port without a scheme or user, got {whole!r}")
    return text


def parse_host_port(value: object) -> HostPort:
    """Parse one ``host:port`` address (IPv6 hosts in brackets)."""
    if not isinstance(value, str):
        raise ValueError("expected a host:port string")
    host, port = _split(value.strip())
    return HostPort(_host(host, value), _port(port))


def parse_listen(value: object) -> ListenAddress:
    """Parse ``host[,host...]:port``, PostgreSQL's listen_addresses with its port."""
    if not isinstance(value, str):
        raise ValueError("expected a host[,host...]:port string")
    hosts, port = _split(value.strip())
    names = tuple(_host(h.strip().strip("[]"), value) for h in hosts.split(","))
    return ListenAddress(names, _port(port))


def split_commas(value: object) -> object:
    """Accept ``"h1:2379,h2:2379"`` where a list is expected, as Patroni does."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def ip_address_text(value: object) -> str:
    """A pod IP: any IPv4 or IPv6 address, kept as text."""
    if not isinstance(value, str):
        raise ValueError("expected an IP address string")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"expected an IP address, got {value!r}") from None


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite number")
    return str(value)


def parameter_value(value: object) -> str:
    """A PostgreSQL setting from any YAML scalar; booleans become ``on``/``off``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, str):
        return value
    raise ValueError("expected a string, number or boolean")


def option_value(value: object) -> str:
    """A command-line option value from any YAML scalar; booleans become ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return parameter_value(value)


def _option_name(name: object, index: int) -> str:
    if not isinstance(name, str) or not name.strip("-"):
        raise ValueError(f"item {index}: option names must be non-empty strings")
    # Patroni users write `data-checksums`; tolerate a copied `--data-checksums` too.
    return name.strip().lstrip("-")


def _item_pairs(item: object, index: int) -> list[tuple[str, str]]:
    if isinstance(item, str):
        name, _, value = item.partition("=")
        return [(_option_name(name, index), value)]
    if isinstance(item, Mapping):
        return [(_option_name(k, index), _item_value(v, index)) for k, v in item.items()]
    raise ValueError(f"item {index}: expected a string or a mapping of option to value")


def _item_value(value: object, index: int) -> str:
    try:
        return option_value(value)
    except ValueError as exc:
        raise ValueError(f"item {index}: {exc}") from None


def option_pairs(value: object) -> list[tuple[str, str]]:
    """Patroni's option notation as ``(name, value)`` pairs; value ``""`` means a switch.

    Accepts a mapping (``{max-rate: 100M}``) or a list whose items are switches
    (``verbose``), ``name=value`` strings, or mappings (``{encoding: UTF8}``).
    """
    items: list[Any]
    if isinstance(value, Mapping):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError("expected a list of options or a mapping")
    pairs: list[tuple[str, str]] = []
    for index, item in enumerate(items):
        pairs.extend(_item_pairs(item, index))
    names = [name for name, _ in pairs]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"option given more than once: {', '.join(duplicated)}")
    return pairs


def initdb_options(value: object) -> object:
    """initdb options flattened to ``encoding=UTF8`` and ``data-checksums`` strings.

    Options pgactor controls itself (the data directory, say) are not refused
    here: the postgres actor drops them with a warning, one policy in one place.
    """
    if value is None:
        return value
    return [f"{name}={arg}" if arg else name for name, arg in option_pairs(value)]


def basebackup_options(value: object) -> object:
    """pg_basebackup options as a mapping of name to value (``""`` for a switch)."""
    if value is None:
        return value
    return dict(option_pairs(value))


def dataclass_default(cls: type[Any], name: str) -> Any:
    """The default a frozen config dataclass declares for a field.

    The schema takes its defaults from messages.config, so the file format and
    the data the actors receive cannot drift apart.
    """
    for field in dataclasses.fields(cls):
        if field.name == name:
            if field.default is not dataclasses.MISSING:
                return field.default
            if field.default_factory is not dataclasses.MISSING:
                return field.default_factory()
    raise LookupError(f"{cls.__name__}.{name} has no default")
