"""One ``pgactor ctl`` invocation: the cluster, the output format, prompts and requests.

Every command runs against a :class:`Session`, which carries what the
command line said and does the talking: requests (one id per action, reused
by every retry), confirmations (skipped with ``--force``; a closed stdin
means no), and printing in the chosen format.  Tests give it their own input
and output.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any, TextIO

from messages.admin import NodeStatus
from messages.config import DynamicConfig
from messages.console import AdminAction, AdminRequest, AdminResponse
from node.ctl import client
from node.ctl.render import structured
from node.ctl.target import Target, find_target

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclasses.dataclass
class Session:
    config: str | None = None
    fmt: str = "pretty"
    timeout_s: float | None = None
    client_key: str | None = None
    force: bool = False
    out: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    err: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)
    read: Callable[[str], str] = dataclasses.field(default=lambda question: input(question))
    interactive: bool = dataclasses.field(default_factory=lambda: sys.stdin.isatty())
    _target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            target = find_target(self.config, client_key=self.client_key)
            if self.timeout_s is not None:
                target = dataclasses.replace(target, timeout_s=self.timeout_s)
            self._target = target
        return self._target

    # -- requests ------------------------------------------------------------------------

    def request(
        self, action: AdminAction, at: Target | None = None, **fields: Any
    ) -> AdminResponse:
        """One action, one request id; retried (same id) until a node answers."""
        req = AdminRequest(request_id=client.new_request_id(), action=action, **fields)
        return client.request(at or self.target, req)

    def status(self) -> NodeStatus:
        """The answering node's status (members, leader, history); CtlError if none."""
        response = self.request(AdminAction.LIST)
        if not response.ok or not isinstance(response.data, NodeStatus):
            raise client.CtlError(response.detail or "no status in the answer", EXIT_FAILED)
        return response.data

    def config_now(self) -> DynamicConfig:
        response = self.request(AdminAction.SHOW_CONFIG)
        if not response.ok or not isinstance(response.data, DynamicConfig):
            raise client.CtlError(response.detail or "no config in the answer", EXIT_FAILED)
        return response.data

    # -- talking to the operator ---------------------------------------------------------

    def print(self, text: str) -> None:
        print(text, file=self.out)

    def fail(self, text: str, code: int = EXIT_FAILED) -> int:
        print(text, file=self.err)
        return code

    def prompt(self, question: str, default: str = "") -> str:
        """Ask when a person is there; otherwise the default."""
        if self.force or not self.interactive:
            return default
        try:
            answer = self.read(f"{question} [{default}]: ").strip()
        except (EOFError, OSError):  # stdin closed or not readable
            return default
        return answer or default

    def confirm(self, question: str) -> bool:
        if self.force:
            return True
        try:
            answer = self.read(f"{question} [y/N]: ")
        except (EOFError, OSError):  # nobody to say yes
            return False
        return answer.strip().lower() in ("y", "yes")

    def result(self, response: AdminResponse) -> int:
        """An action's answer, printed; 0 when it was done."""
        if self.fmt != "pretty":
            data = {"ok": response.ok, "detail": response.detail, "member": response.member}
            self.print(structured(data, self.fmt))
            return EXIT_OK if response.ok else EXIT_FAILED
        if response.ok:
            self.print(response.detail or "done")
            return EXIT_OK
        return self.fail(f"Error: {response.detail}")
