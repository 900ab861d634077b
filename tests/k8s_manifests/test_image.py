"""k8s/Dockerfile builds in two stages and the image ships no compiler, no pip and no cache.

There is no container builder on the project's machines, so these read the
Dockerfile as Docker would (continuation lines joined, one instruction per
line) and check what each stage may hold.  scripts/bench/image_size.py
measures the venv the build stage makes; the last test keeps it measuring
the same thing.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "k8s" / "Dockerfile"
COMPILERS = re.compile(r"^(gcc|g\+\+|cpp|clang|make|build-essential|.*-dev)(-[0-9.]+)?$")
Instruction = tuple[str, str]


def instructions() -> list[Instruction]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages() -> list[list[Instruction]]:
    """The instructions of each stage, each starting with its FROM."""
    out: list[list[Instruction]] = []
    for word, rest in instructions():
        if word == "FROM":
            out.append([])
        if out:
            out[-1].append((word, rest))
    return out


def runs(stage: list[Instruction]) -> list[str]:
    return [rest for word, rest in stage if word == "RUN"]


def commands(run: str) -> list[list[str]]:
    """The simple commands of one RUN (split at && and ;)."""
    return [shlex.split(part) for part in re.split(r"&&|;", run) if part.strip()]


def apt_installed(stage: list[Instruction]) -> set[str]:
    names = set()
    for run in runs(stage):
        for words in commands(run):
            if words[:2] == ["apt-get", "install"]:
                names |= {w for w in words[2:] if not w.startswith("-")}
    return names


def pip_commands(stage: list[Instruction]) -> list[list[str]]:
    return [
        words
        for run in runs(stage)
        for words in commands(run)
        if words and words[0].endswith("/pip")
    ]


def image_size_script() -> ModuleType:
    path = ROOT / "scripts" / "bench" / "image_size.py"
    spec = importlib.util.spec_from_file_location("image_size", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_image_is_built_in_two_stages_on_the_same_debian() -> None:
    build, final = stages()
    assert build[0] == ("FROM", "debian:${DEBIAN_RELEASE}-slim AS build")
    assert final[0] == ("FROM", "debian:${DEBIAN_RELEASE}-slim")


def test_the_image_takes_only_the_venv_from_the_build_stage() -> None:
    _, final = stages()
    copies = [rest for word, rest in final if word in ("COPY", "ADD")]
    assert copies == ["--from=build /opt/pgactor /opt/pgactor"]
    assert pip_commands(final) == [], "the image installs nothing with pip"


def test_no_stage_installs_a_compiler_or_headers() -> None:
    for stage in stages():
        assert not {p for p in apt_installed(stage) if COMPILERS.match(p)}, stage[0]
    assert {"python3", "python3-venv"} <= apt_installed(stages()[0])


def test_every_dependency_is_a_wheel_and_pip_keeps_no_cache() -> None:
    build, _ = stages()
    pips = pip_commands(build)
    assert [w for w in pips if "install" in w or "wheel" in w]
    for words in pips:
        if "install" in words or "wheel" in words:
            assert "--no-cache-dir" in words, words
    (deps,) = [w for w in pips if "install" in w and any(a.endswith(".whl") for a in w)]
    assert "--only-binary=:all:" in deps


def test_pip_and_setuptools_leave_the_venv_before_it_is_copied() -> None:
    build, _ = stages()
    (uninstall,) = [w for w in pip_commands(build) if "uninstall" in w]
    assert {"pip", "setuptools"} <= set(uninstall)
    last_pip_run = [r for r in runs(build) if "pip" in r][-1]
    assert "uninstall" in last_pip_run, "nothing may reinstall pip after it left"


def test_apt_lists_do_not_stay_in_any_layer() -> None:
    for stage in stages():
        for run in runs(stage):
            if "apt-get update" in run:
                assert "rm -rf /var/lib/apt/lists/*" in run, run


def test_the_size_benchmark_measures_what_the_build_stage_installs() -> None:
    script = image_size_script()
    build, _ = stages()
    copied = {
        src
        for word, rest in build
        if word == "COPY"
        for src in shlex.split(rest)[:-1]
        if not src.startswith("--")
    }
    assert set(script.CONTEXT) == copied
    (uninstall,) = [w for w in pip_commands(build) if "uninstall" in w]
    assert set(script.SHIPPED_WITHOUT) == {w for w in uninstall[2:] if not w.startswith("-")}


def test_the_build_stage_trims_kubernetes_aio_and_what_only_it_needs() -> None:
    """The client's asyncio copy (66 MB) and aiohttp with its helpers (13 MB) never load
    in pgactor: the build stage removes them, then proves the rest still imports."""
    script = image_size_script()
    build, _ = stages()
    last = [commands(run) for run in runs(build) if "pip" in run][-1]
    removed = [w for words in last if words[:2] == ["rm", "-rf"] for w in words[2:]]
    assert "/opt/pgactor/lib/python3*/site-packages/kubernetes/aio" in removed
    assert "/".join(script.UNUSED_PACKAGE) == "kubernetes/aio"
    (uninstall,) = [w for w in last if w[0].endswith("/pip") and "uninstall" in w]
    assert set(script.AIO_ONLY) <= set(uninstall)
    assert {"aiohttp", "aiohttp-retry"} <= set(script.AIO_ONLY)
    # -I: the installed modules, not the source tree the build stage runs in
    check = [w for w in last if w[0].endswith("/python") and w[1:3] == ["-I", "-c"]]
    assert last.index(uninstall) < last.index(check[-1]), "the imports are checked after"
    imported = check[-1][3]
    assert "actors.leader_lock.kubernetes" in imported and "kubernetes.client" in imported


def test_only_distributions_nothing_else_needs_count_as_needed_by_kubernetes_aio() -> None:
    script = image_size_script()

    def dist(*requires: str) -> dict[str, object]:
        return {"bytes": 1, "requires": list(requires)}

    graph = {
        "pgactor": dist("kubernetes", "jsonschema", "pydantic"),
        "kubernetes": dist("aiohttp", "aiohttp-retry", "requests", "typing-extensions"),
        "aiohttp": dist("attrs", "yarl", "typing-extensions"),
        "aiohttp-retry": dist("aiohttp"),
        "yarl": dist("idna"),
        "requests": dist("idna"),
        "jsonschema": dist("attrs"),
        "pydantic": dist("typing-extensions"),
        "attrs": dist(),
        "idna": dist(),
        "typing-extensions": dist(),
    }
    assert script.aio_only(graph) == {"aiohttp", "aiohttp-retry", "yarl"}
    del graph["jsonschema"]
    graph["pgactor"] = dist("kubernetes", "pydantic")
    assert script.aio_only(graph) == {"aiohttp", "aiohttp-retry", "yarl", "attrs"}
