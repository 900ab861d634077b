"""The demo: start a local three-node cluster, show it, stop it cleanly."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from localcluster import API_USER, ROOT, LocalCluster, wait_for
from localk8s import TOKEN_ENV, ExternalApi, ExternalApiError
from localprocs import current_postmaster, is_agent_of, is_etcd_of, stop_pid


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
    add_external_k8s_args(p)
    p.add_argument("--keep", action="store_true", help="keep data for the next start")
    p.add_argument("--detach", action="store_true", help="return once healthy, leave it running")
    p.add_argument("--stop", action="store_true", help="stop a detached cluster")
    args = p.parse_args()
    if args.dcs == "kubernetes" and args.keep:
        # Its objects live in the test API server's memory: kept data dirs would
        # meet an empty DCS, and members would race to lead from where they were.
        if args.k8s_api_url:  # and an external server's the demo removes at stop
            p.error("--keep: the demo removes its objects from the API server at stop")
        p.error("--keep needs a DCS that survives a restart; with --dcs kubernetes it has none")
    if not args.stop:
        check_k8s_args(p, args)
    return args


def check_k8s_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    given = [f"--{a.replace('_', '-')}" for a in (*_EXTERNAL, "k8s_configmaps") if getattr(args, a)]
    if given and args.dcs != "kubernetes":
        p.error(f"{' '.join(given)}: needs --dcs kubernetes")
    auth = [f"--{a.replace('_', '-')}" for a in _EXTERNAL[1:] if getattr(args, a)]
    if auth and not args.k8s_api_url:
        p.error(f"{' '.join(auth)}: needs --k8s-api-url")
    try:
        external_api(args)
    except ValueError as e:
        p.error(str(e))


_EXTERNAL = ("k8s_api_url", "k8s_token_file", "k8s_ca_file", "k8s_insecure")


def add_external_k8s_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--k8s-api-url",
        metavar="URL",
        help="with --dcs kubernetes: use this API server (a real cluster's, an emulator) "
        "instead of starting the test server; the demo creates the namespace if missing and "
        "the members' Pods there, and removes them and pgactor's objects on stop",
    )
    p.add_argument(
        "--k8s-token-file",
        metavar="FILE",
        help=f"a bearer token for --k8s-api-url (or the environment's {TOKEN_ENV})",
    )
    p.add_argument("--k8s-ca-file", metavar="FILE", help="the CA that signed the server's cert")
    p.add_argument("--k8s-insecure", action="store_true", help="do not verify the server's TLS")
    p.add_argument(
        "--k8s-configmaps",
        action="store_true",
        help="with --dcs kubernetes: lock and records in ConfigMaps (label-routed mode); "
        "a real API server needs it, as it refuses the demo's loopback addresses in Endpoints",
    )


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
        k8s_external=external_api(args),
        k8s_use_endpoints=not args.k8s_configmaps,
    )


def external_api(args: argparse.Namespace) -> ExternalApi | None:
    """The API server --k8s-api-url names (None: start the test server); ValueError if
    an option is wrong."""
    if not args.k8s_api_url:
        return None
    return ExternalApi(
        args.k8s_api_url,
        token_file=args.k8s_token_file,
        token=None if args.k8s_token_file else os.environ.get(TOKEN_ENV) or None,
        ca_file=args.k8s_ca_file,
        insecure=args.k8s_insecure,
    )


def stop_detached(base: Path) -> int:
    pids_file = base / "pids.json"
    if not pids_file.exists():
        print(f"no detached demo in {base}")
        return 0
    pids = json.loads(pids_file.read_text())
    agents = [a for a in _recorded_agents(pids) if is_agent_of(a["pid"], a.get("config"))]
    for group in _stop_groups(agents):  # the primary first: see safe_stop_order
        for agent in group:
            with contextlib.suppress(ProcessLookupError):
                os.kill(agent["pid"], signal.SIGTERM)
        for agent in group:
            stop_pid(agent["pid"], signal.SIGTERM, timeout_s=60)
    data_dirs = [Path(d) for d in pids.get("data_dirs", [])]
    for pid in postmasters_to_stop(data_dirs):  # only a server an agent left running
        stop_pid(pid, signal.SIGINT, timeout_s=30)
    etcd = pids.get("etcd")
    if etcd and is_etcd_of(etcd, base / "etcd"):
        stop_pid(etcd, signal.SIGTERM, timeout_s=10)
    k8s_api = pids.get("k8s_api")
    if k8s_api and str(ROOT / "tests" / "k8s_api_server.py") in _argv(k8s_api):
        stop_pid(k8s_api, signal.SIGTERM, timeout_s=10)
    if pids.get("k8s_made") and not remove_k8s_objects(pids["k8s_made"]):
        print("the processes are stopped; run scripts/demo --stop again to remove the rest")
        return 1  # pids.json stays for that
    from actors.postgres.oscommand import run_dir_for

    for data_dir in data_dirs:  # the servers' socket dirs; made again at start
        shutil.rmtree(run_dir_for(str(data_dir)), ignore_errors=True)
    pids_file.unlink()
    print("demo stopped")
    return 0


def remove_k8s_objects(recorded: dict[str, Any]) -> bool:
    """What a detached demo made on an API server it did not start; False if some stays."""
    from localk8s import Made, core_api, remove

    made = Made.from_json(recorded)
    failures = remove(core_api(made.url, made.kubeconfig), made)
    for failure in failures:
        print(f"not removed from {made.url}: {failure}")
    if not failures:
        print(f"removed the demo's objects from namespace {made.namespace} on {made.url}")
    return not failures


def postmasters_to_stop(data_dirs: list[Path]) -> list[int]:
    """The postmasters serving these data directories now, read from each one's
    postmaster.pid and checked against the process: never a PID recorded at start,
    which failovers and restarts make stale (and which may name another process)."""
    return [pid for d in data_dirs if (pid := current_postmaster(d)) is not None]


def _recorded_agents(pids: dict[str, Any]) -> list[dict[str, Any]]:
    """The agents pids.json names; a file from before it recorded their configs gives
    bare PIDs (still checked to be pgactor agents before they are signalled)."""
    return [a if isinstance(a, dict) else {"pid": int(a)} for a in pids.get("nodes", [])]


def _stop_groups(agents: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    roles = {str(a["pid"]): _role(a.get("api")) for a in agents}
    first = [a for a in agents if roles[str(a["pid"])] == "primary"]
    rest = [a for a in agents if a not in first]
    return [g for g in (first, rest) if g]


def _role(api: str | None) -> str:
    if not api:
        return "?"
    try:
        with urllib.request.urlopen(f"{api}/patroni", timeout=2) as r:
            return str(json.load(r).get("role", "?"))
    except (OSError, ValueError):
        return "?"


def _argv(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


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
    first, roles = cluster.nodes[0], cluster.roles()
    leader = next((name for name, role in roles.items() if role == "primary"), "node1")
    print(
        "\nREST API actions need credentials (health and status routes are open);"
        " a switchover is answered once it happened:"
        f"\n  curl -s -u {API_USER}:$(cat {cluster.api_password_path})"
        f' -XPOST {first.api}/switchover -d \'{{"leader": "{leader}"}}\''
    )
    show_k8s(cluster)


def show_k8s(cluster: LocalCluster) -> None:
    """Where to watch the lock and the role labels."""
    if cluster.kubeconfig_path is not None:
        print(
            f"\nthe Pods (role labels): kubectl --kubeconfig {cluster.kubeconfig_path}"
            f" -n {cluster.k8s_namespace} get pods -L role"
        )
    elif cluster.dcs == "kubernetes" and not cluster.k8s_use_endpoints:
        objects = f"{cluster.k8s_api_url}/api/v1/namespaces/{cluster.k8s_namespace}"
        print(
            f"\nthe leader lock: curl -s {objects}/configmaps/{cluster.scope}-leader"
            f"\n  the Pods (role labels): curl -s {objects}/pods"
        )
    elif cluster.dcs == "kubernetes":
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
    except ExternalApiError as e:  # nothing made there; the finally stops what started
        print(f"scripts/demo: error: {e}", file=sys.stderr)
        return 1
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
    """What --stop needs: the agents (checked again against their configs before they
    are signalled), the DCS, the data directories.  No postmaster PID: --stop reads
    the current one from each data directory."""
    dcs = cluster.etcd or cluster.k8s_api
    assert dcs is not None or cluster.k8s_made is not None
    pids: dict[str, Any] = {
        "nodes": [
            {"pid": n.proc.pid, "config": str(n.config_path), "api": n.api}
            for n in cluster.nodes
            if n.proc is not None
        ],
        "data_dirs": [str(n.data_dir) for n in cluster.nodes],
    }
    if dcs is not None:
        pids["etcd" if dcs is cluster.etcd else "k8s_api"] = dcs.pid
    if cluster.k8s_made is not None:
        pids["k8s_made"] = cluster.k8s_made.to_json()
    (base / "pids.json").write_text(json.dumps(pids))


if __name__ == "__main__":
    sys.exit(main())
