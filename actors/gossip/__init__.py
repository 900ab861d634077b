"""Gossip: member status straight between members over ZeroMQ with CURVE.

:class:`GossipActor` is the shell; beside it ``membership`` (pure: liveness
and failsafe confirmation), ``peers`` (whom to listen to, DNS in the
background) and ``transport`` (the XPUB/SUB sockets in their own thread).
"""

from __future__ import annotations

from actors.gossip.actor import GossipActor
from actors.gossip.membership import Liveness, Table, Timing, failsafe_lease_until

__all__ = ["GossipActor", "Liveness", "Table", "Timing", "failsafe_lease_until"]
