"""Checks of a file that only make sense once every section is valid.

Two listeners on one address and port, and PostgreSQL parameter values the
configured server would refuse, involve more than one key (or the server's
own catalogue), so they run after the schema has accepted each section, and
are reported the same way: one problem per line, with the keys it concerns.
"""

from __future__ import annotations

from node.config.host import LoadContext
from node.config.listeners import Listener, listener_conflicts
from node.config.schema import NodeModel


def listeners_of(model: NodeModel) -> list[Listener]:
    """Every socket the node will listen on (metrics are served by the REST API)."""
    pg, api = model.postgresql.listen, model.restapi.listen
    found = [
        Listener("postgresql.listen", pg.hosts, pg.port),
        Listener("restapi.listen", (api.host,), api.port),
    ]
    if model.gossip is not None:
        found.append(
            Listener("gossip.listen", (model.gossip.listen.host,), model.gossip.listen.port)
        )
    console = model.console
    if console is not None and console.enabled:
        found.append(Listener("console.listen", (console.listen.host,), console.listen.port))
    return found


def whole_file_problems(model: NodeModel, context: LoadContext) -> list[str]:
    problems = listener_conflicts(listeners_of(model))
    bin_dir = model.postgresql.bin_dir
    if context.check_parameters is not None and bin_dir is not None:
        problems += context.check_parameters(
            bin_dir,
            model.postgresql.os_user,
            {
                "postgresql.parameters": dict(model.postgresql.parameters),
                "bootstrap.dcs.postgresql.parameters": dict(
                    model.bootstrap.dcs.postgresql.parameters
                ),
            },
        )
    return problems
