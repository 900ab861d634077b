"""A small in-memory stand-in for the Kubernetes core/v1 API server, for tests.

No real kube-apiserver can run in the test environment, so tests that drive the
official ``kubernetes`` client talk to this one instead: real HTTP on
loopback, real status codes and Status bodies, one global resourceVersion
counter, optimistic concurrency, merge/strategic/JSON patches, label and field
selectors, chunked watch streams with bounded history, and a fault-injection
switchboard.  It is generic: it knows four kinds (Endpoints, ConfigMap, Pod,
Service) and nothing about what pgactor stores in them.

Modules:

- ``errors``: ApiError and the Status bodies every failure is reported as.
- ``kinds``: the kind table and small parsing helpers (Go's ParseBool).
- ``selectors``: label- and field-selector parsing and matching.
- ``patches``: RFC 7386 merge patch, strategic merge (lists replaced whole),
  RFC 6902 JSON patch.
- ``objects``: checking and completing bodies (namespace, name, uid...).
- ``store``: objects, the resourceVersion counter and the event history.
- ``watch``: turning store events into a chunked watch stream.
- ``faults``: failure injection (fail, stall, drop watches or all
  connections, refuse).
- ``connections``: the open connections and their threads.
- ``request_log``: what requests arrived, for tests to inspect.
- ``routing``: URL path -> resource route and query options.
- ``resources``: the verbs (get/list/create/replace/patch/delete).
- ``handler``: the HTTP request handler and the threading server.

The entry point, with start/stop and the command line, is
``tests/k8s_api_server.py``.
"""
