"""ApiActor: the REST API's shell in the actor system.

The actor does three things: it keeps the latest :class:`NodeStatus` the HA
actor pushes (into a :class:`StatusBox` the HTTP threads read), it hands
answers told back to it (a config write's :class:`ConfigResult`) to the HTTP
thread waiting for them, and it owns the HTTP server's life -- started in
``started()``, shut down in ``stopping()``, so a supervisor restart gives a
fresh server on the same port.  It never serves a request itself: requests
run in the server's threads, which is also where an admin action *asks* the
HA actor (an ask from this actor's own thread could deadlock with an HA
actor telling it a status).
"""

from __future__ import annotations

from typing import Unpack

from actors.api.auth import actions_are_open, verifies_client_certificates
from actors.api.context import CONFIG_TIMEOUT_S, ApiContext
from actors.api.server import HttpService, serve
from actors.api.snapshot import StatusBox
from actors.runtime.actor import ActorArgs, BaseActor, handles
from messages.admin import NodeStatus
from messages.base import ActorName
from messages.config import RestApiSettings
from messages.dcs import ConfigResult, FailoverResult

DEFAULT_LIVENESS_TIMEOUT_S = 30.0
"""Three default loop waits: a status later than this means the HA loop is stuck."""


class ApiActor(BaseActor):
    """Serves the Patroni-compatible REST API from the HA actor's latest status."""

    def __init__(  # noqa: PLR0913 - the API's wiring, all keyword-only
        self,
        *,
        settings: RestApiSettings,
        scope: str,
        ha_actor: ActorName = ActorName("ha"),
        metrics_actor: ActorName = ActorName("metrics"),
        liveness_timeout_s: float = DEFAULT_LIVENESS_TIMEOUT_S,
        config_timeout_s: float = CONFIG_TIMEOUT_S,
        outcome_wait_s: float | None = None,
        **base: Unpack[ActorArgs],
    ) -> None:
        super().__init__(**base)
        self.settings = settings
        self.box = StatusBox(
            scope=scope,
            liveness_timeout_s=liveness_timeout_s,
            monotonic=self.runtime.clock,
            wall=self.runtime.wall,
        )
        self.context = ApiContext(
            box=self.box,
            registry=self.registry,
            ha_actor=ha_actor,
            metrics_actor=metrics_actor,
            api_actor=self.name,
            config_timeout_s=config_timeout_s,
            outcome_wait_s=outcome_wait_s,
        )
        self.http: HttpService | None = None
        self.port: int | None = None
        """The bound port once started (listen_port 0 lets the OS choose)."""

    def started(self) -> None:
        """Bind and start serving; runs in the actor's thread.  A bind error fails the start."""
        self.http = serve(self.settings, self.context)
        self.port = self.http.port
        scheme = "https" if self.settings.certfile else "http"
        self.log.info(
            "REST API listening on %s://%s:%d", scheme, self.settings.listen_host, self.port
        )
        self._say_who_may_act()

    def _say_who_may_act(self) -> None:
        settings = self.settings
        if actions_are_open(settings):
            self.log.warning(
                "restapi.allow_unauthenticated_actions is set: anyone who reaches port %d "
                "may switch over, restart, reinitialise or reconfigure the cluster",
                self.port,
            )
        elif settings.username is None and not verifies_client_certificates(settings):
            self.log.info("no restapi.authentication configured: every action is refused with 401")

    def stopping(self) -> None:
        """Stop the server and join its accept loop; runs in the actor's thread."""
        http, self.http = self.http, None
        if http is not None:
            http.close()
            self.log.info("REST API stopped")

    @handles(NodeStatus)
    def handle_status(self, msg: NodeStatus) -> None:
        self.box.put(msg)

    @handles(ConfigResult, FailoverResult)
    def handle_write_result(self, msg: ConfigResult | FailoverResult) -> None:
        """A DCS write's outcome, for the HTTP thread waiting on it (if it still waits)."""
        if not self.context.replies.deliver(msg.request_id, msg):
            self.log.info("DCS write %s ended after its request gave up", msg.request_id[:12])
