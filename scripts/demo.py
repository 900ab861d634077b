"""The demo: start a local three-node cluster, show it, stop it cleanly."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localcluster import LocalCluster, stop_pid, wait_for


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    p.add_argument("--dir", default=os.environ.get("PGACTOR_DEMO_DIR", "/tmp/pgactor-demo"))
    p.add_argument("--pg-ports", default="5433,5434,5435")
    p.add_argument("--api-ports", default="8008,8009,8010")
    p.add_argument("--gossip-ports", default="7001,7002,7003")
    p.add_argument("--console-ports", default="7101,7102,7103")
    p.add_argument(
        "--dcs",
        choices=["etcd", "kubernetes"],
        default="etcd",
        help="kubernetes: the Kubernetes API test server, each node given POD_* as in a pod",
    )
    p.add_argument("--k8s-namespace", default="default", help="with --dcs kubernetes")
    p.add_argument("--keep", action="store_true", help="keep data for the next start")
    p.add_argument("--detach", action="store_true", help="return once healthy, leave it running")
    p.add_argument("--stop", action="store_true", help="stop a detached cluster")
    args = p.parse_args()
    if args.dcs == "kubernetes" and args.keep:
        # Its objects live in the test API server's memory: kept data dirs would
        # meet an empty DCS, and members would race to lead from where they were.
        p.error("--keep needs a DCS that survives a restart; with --dcs kubernetes it has none")
    return args


def make_cluster(args: argparse.Namespace) -> LocalCluster:
    pg = [int(x) for x in args.pg_ports.split(",")]
    api = [int(x) for x in args.api_ports.split(",")]
    gossip = [int(x) for x in args.gossip_ports.split(",")]
    console = [int(x) for x in args.console_ports.split(",")]
    return LocalCluster(
        Path(args.dir),
        pg_ports=pg,
        api_ports=api,
        gossip_ports=gossip,
        console_ports=console,
        dcs=args.dcs,
        k8s_namespace=args.k8s_namespace,
    )


def stop_detached(base: Path) -> int:
    pids_file = base / "pids.json"
    if not pids_file.exists():
        print(f"no detached demo in {base}")
        return 0
    pids = json.loads(pids_file.read_text())
    for pid in pids["nodes"]:
        stop_pid(pid, signal.SIGTERM, timeout_s=60)
    for pid in pids.get("postmasters", []):
        stop_pid(pid, signal.SIGQUIT, timeout_s=10)
    for dcs in ("etcd", "k8s_api"):
        if pids.get(dcs):
            stop_pid(pids[dcs], signal.SIGTERM, timeout_s=10)
    from actors.postgres.oscommand import run_dir_for

    for data_dir in pids.get("data_dirs", []):  # the servers' socket dirs; made again at start
        shutil.rmtree(run_dir_for(data_dir), ignore_errors=True)
    pids_file.unlink()
    print("demo stopped")
    return 0


def show(cluster: LocalCluster) -> None:
    print("\ncluster is healthy:")
    for node in cluster.nodes:
        print(
            f"  {node.name}: {cluster.roles()[node.name]:9}  postgres 127.0.0.1:{node.pg_port}"
            f"  api {node.api}  log {node.log_path}"
        )
    print(
        f"\nmanage it: .venv/bin/pgactor ctl list (or topology, switchover, history ...),"
        f" .venv/bin/pgactor console"
        f"\n  (consoles on 127.0.0.1:{','.join(str(n.console_port) for n in cluster.nodes)},"
        f" found through {cluster.ctl_path})"
    )
    print(f"\nconnect (writes go to the primary):\n  psql '{cluster.dsn()}'")
    print("  password: pgactor-demo (added to ~/.pgpass)")
    if cluster.dcs == "kubernetes":
        objects = f"{cluster.k8s_api_url}/api/v1/namespaces/{cluster.k8s_namespace}"
        print(
            f"\nthe primary Service's Endpoints (the leader lock): curl -s {objects}/endpoints/"
            f"{cluster.scope}\n  the Pods (role labels): curl -s {objects}/pods"
        )


def add_pgpass(cluster: LocalCluster) -> None:
    path = Path.home() / ".pgpass"
    lines = path.read_text().splitlines() if path.exists() else []
    for node in cluster.nodes:
        line = f"127.0.0.1:{node.pg_port}:*:postgres:pgactor-demo"
        if line not in lines:
            lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def main() -> int:
    args = parse_args()
    base = Path(args.dir)
    if args.stop:
        return stop_detached(base)
    cluster = make_cluster(args)
    if not args.keep:
        cluster.remove_data()
        cluster = make_cluster(args)
    started = time.monotonic()
    detached = False
    try:
        cluster.start()
        print(f"{cluster.describe_dcs()}; waiting for one primary and two streaming replicas ...")
        wait_for(lambda: _progress(cluster), 120, "a healthy cluster", interval_s=0.5)
        print(f"healthy after {time.monotonic() - started:.1f} s")
        add_pgpass(cluster)
        show(cluster)
        if args.detach:
            _save_pids(cluster, base)
            detached = True
            print("\ndetached; stop it with: scripts/demo --stop")
            return 0
        print("\nCtrl-C stops everything")
        while True:
            time.sleep(2)
            print("  " + "  ".join(f"{n}={r}" for n, r in cluster.roles().items()), flush=True)
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        if not detached:  # also a --detach that failed or was interrupted before it was healthy
            cluster.stop()
            if not args.keep:
                cluster.remove_data()
    return 0


def _progress(cluster: LocalCluster) -> bool:
    roles = cluster.roles()
    print("  " + "  ".join(f"{n}={r}" for n, r in roles.items()), flush=True)
    return cluster.healthy() is not None


def _save_pids(cluster: LocalCluster, base: Path) -> None:
    dcs = cluster.etcd or cluster.k8s_api
    assert dcs is not None
    pids = {
        "etcd" if dcs is cluster.etcd else "k8s_api": dcs.pid,
        "nodes": [n.proc.pid for n in cluster.nodes if n.proc is not None],
        "postmasters": [p for n in cluster.nodes if (p := n.postmaster_pid())],
        "data_dirs": [str(n.data_dir) for n in cluster.nodes],
    }
    (base / "pids.json").write_text(json.dumps(pids))


if __name__ == "__main__":
    sys.exit(main())
