"""What pgactor's runtime venv weighs: the part of the image the Dockerfile's build stage makes.

Usage: .venv/bin/python scripts/bench/image_size.py [--python /usr/bin/python3]

There is no container builder here, so this measures what k8s/Dockerfile's
build stage produces and the image's final stage copies: a fresh venv (made
by Debian's python3, as in the image) with pgactor installed non-editable
from the same files the Dockerfile copies (pyproject.toml, README.md,
actors/, messages/, node/; no test extras, no pip cache), then pip and
setuptools removed as the Dockerfile removes them.  The venv lives in a
temporary directory that is removed at the end; the checkout is only read
(an in-tree build would write build/ and *.egg-info into it).

As the Dockerfile, it then trims what pgactor never imports: the client's
``kubernetes.aio`` package (an asyncio copy of the client) and the
distributions installed only for it (aiohttp and its helpers, AIO_ONLY).  It
checks from the venv's own metadata that nothing else needs those
distributions, that every pgactor module and the client's sync API still
import, and that ``kubernetes.aio`` and aiohttp no longer do.

Prints one JSON object: the venv's size (``du -sb``) as the install leaves
it and as shipped, what the trim removed, the compiled bytecode in it, the
largest distributions' installed bytes (their RECORD's files), and the
``kubernetes`` client's share as shipped: the distributions installed only
because of it (its dependency closure minus everything pgactor's other
dependencies need).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = ("pyproject.toml", "README.md", "actors", "messages", "node")
"""What the Dockerfile copies into its build stage (and k8s/Dockerfile.dockerignore lets in)."""
TOOLS = ("pip", "setuptools")
AIO_ROOTS = ("aiohttp", "aiohttp-retry")
"""What the kubernetes client requires for kubernetes.aio alone (its sync API never
imports them)."""
AIO_ONLY = (
    "aiohttp",
    "aiohttp-retry",
    "aiohappyeyeballs",
    "aiosignal",
    "attrs",
    "frozenlist",
    "multidict",
    "propcache",
    "yarl",
)
"""AIO_ROOTS and what nothing but them needs: aio_only() checks it against the venv."""
SHIPPED_WITHOUT = (*TOOLS, *AIO_ONLY)
"""What the Dockerfile uninstalls from the venv before the final stage copies it."""
UNUSED_PACKAGE = ("kubernetes", "aio")
"""The package directory the Dockerfile removes from site-packages."""

# Runs inside the measured venv (pip still there: its vendored packaging evaluates
# markers exactly as pip did when it chose what to install).
_INSPECT = r"""
import json, os, re
from importlib import metadata
from pip._vendor.packaging.requirements import Requirement

def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()

dists = {key(d.metadata["Name"]): d for d in metadata.distributions()}
out = {}
for name, dist in dists.items():
    size = 0
    for f in dist.files or ():
        path = dist.locate_file(f)
        if os.path.lexists(path):
            size += os.lstat(path).st_size
    needs = []
    for text in dist.requires or ():
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            needs.append(key(req.name))
    out[name] = {"bytes": size, "requires": sorted(set(needs) & set(dists))}
print(json.dumps(out))
"""

_IMPORTS = """
import importlib, pkgutil
for package in ("actors", "messages", "node"):
    for module in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        importlib.import_module(module.name)
"""
"""Every pgactor module imports from the venv as shipped: none needs pip or setuptools."""

_TRIMMED = """
import importlib, importlib.util
for module in ("kubernetes.client", "kubernetes.config", "kubernetes.watch", "kubernetes.stream"):
    importlib.import_module(module)
for gone in ("kubernetes.aio", "aiohttp", "yarl"):
    assert importlib.util.find_spec(gone) is None, f"{gone} is still in the venv"
"""
"""The client's sync API imports without what the trim removed, and that is gone."""


def du_bytes(path: Path) -> int:
    done = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def closure(roots: set[str], graph: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    todo = [r for r in roots if r in graph]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [r for r in graph[name]["requires"] if r in graph]
    return seen


def copy_context(dest: Path) -> None:
    for name in CONTEXT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, dest / name)


def pip(venv: Path, *args: str) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "--no-cache-dir", "-q", *args],
        check=True,
    )


def aio_only(graph: dict[str, Any]) -> set[str]:
    """The distributions installed only because kubernetes requires AIO_ROOTS: those
    pgactor no longer needs once that requirement is cut."""
    pruned = {
        name: {
            "requires": [r for r in info["requires"] if name != "kubernetes" or r not in AIO_ROOTS]
        }
        for name, info in graph.items()
    }
    return closure(set(AIO_ROOTS), graph) - closure({"pgactor"}, pruned)


def inspect(venv: Path) -> dict[str, Any]:
    """Every distribution in `venv`: its installed bytes and what it requires there."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _INSPECT], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def build_venv(python: str, work: Path) -> tuple[Path, dict[str, Any]]:
    """The build stage: venv, pip upgraded, pgactor installed; returns it with its graph."""
    context, venv = work / "context", work / "venv"
    context.mkdir()
    copy_context(context)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    pip(venv, "install", "--upgrade", "pip")
    # As the Dockerfile: pgactor's wheel first, then it and every dependency as wheels only.
    pip(venv, "wheel", "--no-deps", "--wheel-dir", str(work / "wheels"), str(context))
    (wheel,) = (work / "wheels").glob("pgactor-*.whl")
    pip(venv, "install", "--only-binary=:all:", str(wheel))
    return venv, inspect(venv)


def trim(venv: Path, graph: dict[str, Any]) -> dict[str, Any]:
    """What the Dockerfile trims, after checking nothing else needs it; returns the graph
    as shipped (pip still in it) and what left."""
    found = aio_only(graph)
    if found != set(AIO_ONLY) & set(graph):
        raise SystemExit(
            f"the distributions only kubernetes.aio needs are {sorted(found)}, not AIO_ONLY "
            f"{sorted(AIO_ONLY)}: update AIO_ONLY and k8s/Dockerfile's uninstall together"
        )
    (site,) = venv.glob("lib/python3*/site-packages")
    package = site.joinpath(*UNUSED_PACKAGE)
    sizes = {name: graph[name]["bytes"] for name in sorted(found)}
    removed = {
        "kubernetes_aio_bytes": du_bytes(package) if package.is_dir() else 0,
        "aio_only_bytes": sum(sizes.values()),
        "aio_only": sizes,
    }
    shutil.rmtree(package, ignore_errors=True)
    shipped = {k: v for k, v in inspect(venv).items() if k not in SHIPPED_WITHOUT}
    return {"graph": shipped, "removed": removed}


def kubernetes_share(graph: dict[str, Any]) -> dict[str, Any]:
    others = set(graph["pgactor"]["requires"]) - {"kubernetes"}
    # graph holds only what ships: requirements of removed distributions name nothing
    only = closure({"kubernetes"}, graph) - closure(others, graph)
    sizes = {name: graph[name]["bytes"] for name in sorted(only)}
    return {"bytes": sum(sizes.values()), "distributions": sizes}


def measure(python: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pgactor-image-") as tmp:
        venv, graph = build_venv(python, Path(tmp))
        full = du_bytes(venv)
        trimmed = trim(venv, graph)
        pip(venv, "uninstall", "-y", *SHIPPED_WITHOUT)
        shipped = du_bytes(venv)
        pyc = sum(f.stat().st_size for f in venv.rglob("*.pyc"))
        version = subprocess.run(
            [str(venv / "bin" / "pgactor"), "version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        for check in (_IMPORTS, _TRIMMED):  # -I: from the venv, not from the checkout
            subprocess.run([str(venv / "bin" / "python"), "-I", "-c", check], check=True)
    runtime = trimmed["graph"]
    share = kubernetes_share(runtime)
    return {
        "bench": "image_size",
        "date": datetime.date.today().isoformat(),
        "commit": _commit(),
        "python": python,
        "pgactor": version,
        "venv_bytes_with_pip": full,
        "venv_bytes": shipped,
        "trimmed": trimmed["removed"],
        "pyc_bytes": pyc,
        "distributions": len(runtime),
        "kubernetes_only_bytes": share["bytes"],
        "kubernetes_share": round(share["bytes"] / shipped, 3),
        "kubernetes_only": share["distributions"],
        "largest": dict(
            sorted(((k, v["bytes"]) for k, v in runtime.items()), key=lambda kv: -kv[1])[:10]
        ),
    }


def _commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    parser.add_argument("--python", default=default, help="the interpreter that makes the venv")
    args = parser.parse_args()
    print(json.dumps(measure(args.python), indent=2))


if __name__ == "__main__":
    main()
