"""The interrupt a stop fires at a running action (see actors/postgres/interrupt.py)."""

from __future__ import annotations

import threading

from actors.postgres.interrupt import Interrupt


def test_an_interrupt_waits_for_a_spawn_in_progress_and_ends_waits() -> None:
    interrupt = Interrupt()
    fired = threading.Event()
    with interrupt.unless_fired() as clear:
        assert clear
        firing = threading.Thread(target=lambda: (interrupt.fire(), fired.set()))
        firing.start()
        assert not fired.wait(0.2), "fire() did not wait for the spawn to end"
    firing.join(5)
    assert interrupt.fired and interrupt.sleep(10)
    with interrupt.unless_fired() as clear:
        assert not clear
