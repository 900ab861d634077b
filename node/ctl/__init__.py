"""``pgactor ctl``: patronictl's vocabulary over the console endpoint, and key generation.

``target`` finds the cluster and keys, ``client`` sends one request to
whichever node answers, ``session`` carries one invocation's options,
``commands`` / ``switchover`` / ``editconfig`` are the commands, ``render``
prints them.  :func:`add_ctl`, :func:`add_console` and :func:`add_keys` attach the
subcommands to the ``pgactor`` parser.
"""

from __future__ import annotations

from node.ctl.parser import add_console, add_ctl, add_keys

__all__ = ["add_console", "add_ctl", "add_keys"]
