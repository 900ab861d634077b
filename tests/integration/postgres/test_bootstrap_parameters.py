"""A new cluster's first start runs with the cluster's postgresql.parameters.

The member that initialises the cluster used to start it with PostgreSQL's
defaults and then mark the cluster's values pending a restart that nobody
makes: the primary ran with max_connections 100 against a configured 50, and
replicas had to follow the primary's value (found by the chaos run).
"""

from __future__ import annotations

import pytest

from messages.ha import ActionDone, ActionKind
from messages.postgres import Bootstrap

from .actor_harness import running_bootstrap, tell
from .conftest import TEST_PARAMETERS, PgFactory, sql

pytestmark = pytest.mark.integration


def test_the_first_start_of_a_new_cluster_runs_with_the_clusters_parameters(
    pg: PgFactory,
) -> None:
    node_parameters = {k: v for k, v in TEST_PARAMETERS.items() if k != "max_connections"}
    settings = pg.settings("boot-params", parameters=node_parameters)
    cluster = {"max_connections": "42", "work_mem": "7MB"}
    with running_bootstrap(settings, "boot-params", dynamic_parameters=cluster) as (actor, inbox):
        tell(actor, Bootstrap())
        done = inbox.wait(ActionDone, lambda d: d.kind is ActionKind.BOOTSTRAP, 60, "bootstrap")
        assert done.ok, done.detail
    assert sql(settings, "SHOW max_connections")[0][0] == "42"
    assert sql(settings, "SHOW work_mem")[0][0] == "7MB"
    pending = sql(settings, "SELECT count(*) FROM pg_settings WHERE pending_restart")[0][0]
    assert pending == 0
