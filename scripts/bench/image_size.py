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

Prints one JSON object: the venv's size (``du -sb``) before and after pip is
removed, the compiled bytecode in it, the largest distributions' installed
bytes (their RECORD's files), and the ``kubernetes`` client's share: the
distributions installed only because of it (its dependency closure minus
everything pgactor's other dependencies need), and of that the client's
``kubernetes.aio`` package, which pgactor never imports.
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
SHIPPED_WITHOUT = ("pip", "setuptools")
"""What the Dockerfile uninstalls from the venv before the final stage copies it."""

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
            todo += graph[name]["requires"]
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
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", _INSPECT], capture_output=True, text=True, check=True
    )
    return venv, json.loads(done.stdout)


def kubernetes_share(graph: dict[str, Any]) -> dict[str, Any]:
    others = set(graph["pgactor"]["requires"]) - {"kubernetes"}
    only = closure({"kubernetes"}, graph) - closure(others, graph)
    sizes = {name: graph[name]["bytes"] for name in sorted(only)}
    return {"bytes": sum(sizes.values()), "distributions": sizes}


def measure(python: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pgactor-image-") as tmp:
        venv, graph = build_venv(python, Path(tmp))
        full = du_bytes(venv)
        pip(venv, "uninstall", "-y", *SHIPPED_WITHOUT)
        shipped = du_bytes(venv)
        (site,) = venv.glob("lib/python3*/site-packages")
        unused = (
            du_bytes(site / "kubernetes" / "aio") if (site / "kubernetes" / "aio").is_dir() else 0
        )
        pyc = sum(f.stat().st_size for f in venv.rglob("*.pyc"))
        version = subprocess.run(
            [str(venv / "bin" / "pgactor"), "version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        subprocess.run([str(venv / "bin" / "python"), "-c", _IMPORTS], check=True)
    share = kubernetes_share(graph)
    runtime = {k: v for k, v in graph.items() if k not in SHIPPED_WITHOUT}
    return {
        "bench": "image_size",
        "date": datetime.date.today().isoformat(),
        "commit": _commit(),
        "python": python,
        "pgactor": version,
        "venv_bytes_with_pip": full,
        "venv_bytes": shipped,
        "pyc_bytes": pyc,
        "distributions": len(runtime),
        "kubernetes_only_bytes": share["bytes"],
        "kubernetes_share": round(share["bytes"] / shipped, 3),
        "kubernetes_only": share["distributions"],
        "kubernetes_aio_bytes": unused,
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
