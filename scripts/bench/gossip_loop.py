"""CPU per wake-up of the gossip socket thread, three members in three processes.

Usage: .venv/bin/python scripts/bench/gossip_loop.py [--hz 20] [--seconds 15]
Each process runs what a member's gossip transport runs -- a SocketLoop with a
CURVE XPUB and a SUB connected to the other two, a QuietFrames noting the
peers' repeats -- and repeats one frame `--hz` times a second.  Prints, per
member, the socket thread's CPU (utime + stime), its wake-ups (voluntary
context switches) and the events it handled (sends and receives), and what
that would cost per minute at one heartbeat a second.  A process per member,
as in a cluster: threads of one process would share caches and the GIL.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

TICKS_PER_S = 100  # os.sysconf("SC_CLK_TCK") on Linux


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _thread_cpu_and_wakeups(tid: int) -> tuple[float, int]:
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    status = Path(f"/proc/self/task/{tid}/status").read_text().splitlines()
    switches = next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt"))
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S, switches


def _member(i: int, ports: list[int], keys: str, pace: tuple[float, float], out: Any) -> None:
    """Member `i`: repeat a frame pace[0] times a second, measure for pace[1] seconds."""
    import zmq

    from actors.gossip.quiet import QuietFrames
    from actors.runtime import zmq_io
    from actors.runtime.zap import start_authenticator
    from actors.runtime.zmq_guard import KeyCheck

    pair = zmq_io.load_keypair(Path(keys) / "server.key_secret")
    context: zmq.Context[Any] = zmq.Context()
    auth = start_authenticator(context, KeyCheck(frozenset({pair.public}), f"m{i}"))
    pub = zmq_io.make_socket(context, zmq.XPUB)
    zmq_io.curve_server(pub, pair)
    pub.bind(f"tcp://127.0.0.1:{ports[i]}")
    sub = zmq_io.make_socket(context, zmq.SUB)
    zmq_io.curve_client(sub, pair, pair.public)
    sub.subscribe(b"")
    quiet = QuietFrames(time.monotonic)
    received = [0]

    def receive(key: str, frames: list[bytes], user: str) -> None:
        if key == "sub":
            received[0] += 1
            quiet.heard(frames[0])

    loop = zmq_io.SocketLoop(f"m{i}", {"pub": pub, "sub": sub}, receive)
    loop.start()
    for j, port in enumerate(ports):
        if j != i:
            loop.connect("sub", f"tcp://127.0.0.1:{port}")
    time.sleep(1.0)  # every handshake done
    hz, seconds = pace
    loop.repeat("pub", [bytes([i]) * 300], 1.0 / hz)
    time.sleep(1.0)
    tid = loop._thread.native_id
    assert tid is not None
    cpu0, woke0, got0 = (*_thread_cpu_and_wakeups(tid), received[0])
    time.sleep(seconds)
    cpu1, woke1, got1 = (*_thread_cpu_and_wakeups(tid), received[0])
    out.put((i, cpu1 - cpu0, woke1 - woke0, got1 - got0))
    time.sleep(0.5)  # the others still measure: keep sending
    loop.stop()
    auth.stop()
    context.destroy(linger=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hz", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    from actors.runtime import zmq_io

    with tempfile.TemporaryDirectory(prefix="pgactor-bench-keys-") as keys:
        zmq_io.generate_keys(keys, ())
        ports = [_free_port() for _ in range(3)]
        out: Any = mp.Queue()
        members = [
            mp.Process(target=_member, args=(i, ports, keys, (args.hz, args.seconds), out))
            for i in range(3)
        ]
        for p in members:
            p.start()
        try:
            results = sorted(out.get(timeout=args.seconds + 30) for _ in members)
        finally:
            for p in members:
                p.join(10)
                if p.is_alive():
                    p.kill()
    for i, cpu, woke, got in results:
        events = args.hz * args.seconds + got
        print(
            json.dumps(
                {
                    "member": i,
                    "cpu_s": round(cpu, 3),
                    "wakeups": woke,
                    "events": int(events),
                    "us_per_wakeup": round(1e6 * cpu / max(woke, 1)),
                    "s_per_min_at_1hz": round(cpu / events * 3 * 60, 4),
                }
            )
        )


if __name__ == "__main__":
    main()
