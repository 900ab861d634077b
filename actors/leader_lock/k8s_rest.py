"""The few parts of the official ``kubernetes`` client the DCS uses, loaded alone.

``import kubernetes`` runs the package's ``__init__``, which imports every
subpackage: the kubeconfig loader (oauthlib, requests, PyYAML), the dynamic
client, watch, stream (websocket), the informer...; and ``CoreV1Api`` is a
generated module of 63,000 lines whose methods validate their arguments with
pydantic and import the pydantic models of everything they could return.  With
them an agent took 91 MB instead of 48.  pgactor sends plain JSON dicts and
parses the answers itself (k8s_client), so it needs only the client's
``Configuration`` (host, TLS, the service account's token and its refresh),
its REST client (the urllib3 pool built from that configuration),
``ApiException`` and the config loaders: about 1 MB.

So the packages ``kubernetes``, ``kubernetes.config`` and ``kubernetes.utils``
are registered with their ``__init__`` deferred: importing one of their
submodules loads that submodule only, and the first time anyone asks such a
package for a name it does not hold yet, its ``__init__`` runs, so other code
that wants the whole library still gets all of it.

:class:`CoreV1` sends the requests ``CoreV1Api`` would send for the verbs the
DCS uses (same method, path, query, headers and body, through the same REST
client) and, as ``CoreV1Api`` does when asked not to preload the answer,
raises ``ApiException`` for a status outside 2xx and otherwise returns the
urllib3 response unread.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any
from urllib.parse import quote

import urllib3


def _defer_init(name: str) -> None:
    """Register package `name` without running its ``__init__`` until a missing name is asked."""
    if name in sys.modules:  # already imported (whole): use it as it is
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no package {name}")
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)

    def complete(attr: str) -> object:
        # Once, whichever thread asks first (a dict pop is atomic): whole from here on.
        if module.__dict__.pop("__getattr__", None) is not None:
            loader.exec_module(module)
        return getattr(module, attr)

    setattr(module, "__getattr__", complete)  # noqa: B010 - a module's own __getattr__ (PEP 562)
    sys.modules[name] = module


for _package in ("kubernetes", "kubernetes.config", "kubernetes.utils"):
    _defer_init(_package)

# Only now, with those three packages deferred, may the library's modules be imported.
from kubernetes.client import __version__ as _client_version  # noqa: E402
from kubernetes.client.configuration import Configuration  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402
from kubernetes.client.rest import RESTClientObject  # noqa: E402
from kubernetes.config.config_exception import ConfigException  # noqa: E402

__all__ = ["ApiException", "ConfigException", "Configuration", "CoreV1"]

_USER_AGENT = f"OpenAPI-Generator/{_client_version}/python"
"""The User-Agent of the library's own ApiClient: the API server's audit log sees no change."""

_HTTP_METHOD = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "patch": "PATCH"}
_QUERY = (  # (keyword, query parameter), in the order the generated client sends them
    ("allow_watch_bookmarks", "allowWatchBookmarks"),
    ("label_selector", "labelSelector"),
    ("resource_version", "resourceVersion"),
    ("timeout_seconds", "timeoutSeconds"),
    ("watch", "watch"),
)


def load_incluster_config(configuration: Any) -> None:
    """The service account's host, CA and token (refreshed as it rotates) into `configuration`."""
    module = importlib.import_module("kubernetes.config.incluster_config")
    module.load_incluster_config(client_configuration=configuration)


def load_kube_config(config_file: str | None, configuration: Any) -> None:
    """A kubeconfig into `configuration`.  Its loader alone imports oauthlib, requests,
    PyYAML and pydantic (several MB), so it is imported only when it is needed."""
    module = importlib.import_module("kubernetes.config.kube_config")
    module.load_kube_config(config_file=config_file, client_configuration=configuration)


class CoreV1:
    """core/v1 namespaced objects over the library's REST client (one connection pool)."""

    def __init__(self, configuration: Any) -> None:
        self.configuration = configuration
        self._rest: Any = RESTClientObject(configuration)  # untyped library code

    def close(self) -> None:
        """Drop idle pooled connections."""
        self._rest.close()

    def send(  # noqa: PLR0913 - the request's parts, by name
        self,
        resource: str,
        verb: str,
        *,
        namespace: str,
        name: str | None = None,
        body: dict[str, Any] | None = None,
        content_type: str | None = None,
        timeout: tuple[float, float],
        **query: Any,
    ) -> urllib3.BaseHTTPResponse:
        """One request; the answer unread, or ApiException for a status outside 2xx."""
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        self._authorize(headers)
        response = self._rest.request(
            _HTTP_METHOD[verb],
            self._url(resource, namespace, name, query),
            headers=headers,
            body=body,
            _request_timeout=timeout,
        )
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        answer: urllib3.BaseHTTPResponse = response.response
        return answer

    def _url(self, resource: str, namespace: str, name: str | None, query: dict[str, Any]) -> str:
        safe = self.configuration.safe_chars_for_path_param
        path = f"/api/v1/namespaces/{quote(namespace, safe=safe)}/{resource}"
        if name is not None:
            path += "/" + quote(name, safe=safe)
        unknown = set(query) - {keyword for keyword, _ in _QUERY}
        if unknown:
            raise TypeError(f"unknown query parameters: {sorted(unknown)}")
        pairs = [
            (param, _query_value(query[kw])) for kw, param in _QUERY if query.get(kw) is not None
        ]
        url = str(self.configuration.host) + path
        return url + "?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else url

    def _authorize(self, headers: dict[str, str]) -> None:
        """The bearer token, read through the configuration (which refreshes a rotated one)."""
        setting = self.configuration.auth_settings().get("BearerToken")
        if setting and setting["value"] is not None:
            headers[setting["key"]] = setting["value"]


def _query_value(value: object) -> str:
    """As the generated client writes a query value: booleans in lower case, then quoted."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return quote(text)
