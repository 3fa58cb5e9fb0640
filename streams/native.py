"""The hot path compiled to C with mypyc, and a guard that what runs is the source.

The annotations agent spends most of a cycle in a few pure modules: parsing events,
the agreement, the outputs, the task records and their cache. mypyc (part of mypy,
which checks this code already) compiles them from their type annotations into C
extensions: 7-12% more events per second for the whole worker (bench/README.md,
session 21). Everything else stays Python, and without a build the
same modules run as Python, unchanged.

The extensions are built next to their sources (``streams/batch.cpython-311-….so``),
which Python imports in preference to the ``.py``. An edited source would then be
shadowed by its old build, silently. So the build records each source's hash, and
:func:`check` refuses a build whose sources changed since: the worker and the test
suite call it. ``make native`` compiles (``make bootstrap`` does when a source
changed), ``make pure`` removes the build.

Only modules whose compiled behavior was checked by the whole test suite are listed:
mypyc checks declared types at run time (a ``float`` given where an ``int`` is
declared raises ``TypeError``), so a module that validates loose input itself, like
``assignment/consensus.py`` with its ``ValueError`` messages, stays Python.

    python -m streams.native build [--if-stale]   compile (about 20 s)
    python -m streams.native remove               back to pure Python
    python -m streams.native status               what runs now
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from streams.errors import QuorumError
from streams.settings import REPO_ROOT

ROOT = REPO_ROOT  # a name of its own: the tests point it at a tree of theirs

# Compiled together, as one group: they call each other directly in C.
MODULES: tuple[str, ...] = (
    "streams/batch.py",
    "streams/models/annotation.py",
    "streams/models/invalid.py",
    "streams/models/outputs.py",
    "streams/state/task.py",
    "streams/state/task_cache.py",
    "agreement/task.py",
    "agreement/pair.py",
)

# Every extension in them is this build's: the project has no other C code.
PACKAGES = ("streams", "agreement", "assignment")

# mypyc's library that holds the whole group's code. Named inside the ``streams`` package:
# by default it is a top-level module at the tree's root, which the editable install's
# import hook does not put on the path (``quorum worker`` could not import it).
GROUP = "streams.hot_path"

MANIFEST = ROOT / "build" / "native.json"
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # e.g. .cpython-311-x86_64-linux-gnu.so
_SETUP = """\
from setuptools import setup
from mypyc.build import mypycify

setup(name="quorum-hot-path",
      ext_modules=mypycify({modules!r}, group_name={group!r}, opt_level="3"))
"""


class NativeBuildError(QuorumError):
    """The compiled hot path cannot be used or built; the message says what to run."""


@dataclass(frozen=True, slots=True)
class NativeState:
    """What the worker runs: ``compiled`` modules (fresh builds) or Python."""

    compiled: tuple[str, ...]
    stale: tuple[str, ...]  # compiled, but their source changed since (or never recorded)

    @property
    def describe(self) -> str:
        if self.stale:
            return f"a stale build ({len(self.stale)} of {len(MODULES)} modules changed)"
        if self.compiled:
            return f"compiled with mypyc ({len(self.compiled)} modules)"
        return "pure Python (`make native` compiles the hot path: about 10% faster)"


def _extension(module: str) -> Path:
    return ROOT / (module.removesuffix(".py") + _SUFFIX)


def _library() -> Path:
    return ROOT / (GROUP.replace(".", "/") + f"__mypyc{_SUFFIX}")


def _built() -> list[str]:
    """Every module with an extension in the packages, as a source path, including
    those of an earlier build whose module list was longer."""
    library = _library()
    return sorted(
        str(path.relative_to(ROOT)).removesuffix(_SUFFIX) + ".py"
        for package in PACKAGES
        for path in (ROOT / package).rglob(f"*{_SUFFIX}")
        if path != library
    )


def _digest(module: str) -> str:
    return hashlib.sha256((ROOT / module).read_bytes()).hexdigest()


def _recorded() -> dict[str, str]:
    try:
        manifest = orjson.loads(MANIFEST.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("suffix") != _SUFFIX:
        return {}
    sources = manifest.get("sources")
    return sources if isinstance(sources, dict) else {}


def state() -> NativeState:
    """Which modules are compiled, and whether their build still matches the sources.

    The modules are one group, so one changed source makes the whole build stale: its
    code lives on in the group's shared library, called directly by the others."""
    built = _built()
    compiled = tuple(m for m in MODULES if m in built)
    if not built:
        return NativeState((), ())
    recorded = _recorded()
    changed = [m for m in MODULES if recorded.get(m) != _digest(m)]
    unlisted = [m for m in built if m not in MODULES]  # no longer compiled: a stale copy
    if changed or unlisted or set(recorded) != set(MODULES) or len(compiled) != len(MODULES):
        return NativeState(compiled, tuple(changed + unlisted) or tuple(built))
    return NativeState(compiled, ())


def check() -> NativeState:
    """The state, or :class:`NativeBuildError` when a build no longer matches its
    sources: running it would run old code under new file names."""
    current = state()
    if current.stale:
        names = ", ".join(current.stale)
        raise NativeBuildError(
            f"the compiled hot path is older than its sources ({names}): Python would run "
            "the old code. Run `make native` to compile it again (about 20 s), or "
            "`make pure` to run the sources as Python"
        )
    return current


def remove() -> list[Path]:
    """Delete the build: every module runs as Python again. Returns what was deleted."""
    removed = [p for p in (*map(_extension, _built()), _library()) if p.exists()]
    for path in removed:
        path.unlink()
    MANIFEST.unlink(missing_ok=True)
    return removed


def build() -> NativeState:
    """Compile :data:`MODULES` with mypyc in place and record their sources' hashes.

    Runs mypyc (mypy's compiler, a dev dependency) as ``mypyc`` on the command line
    would, through setuptools' ``build_ext --inplace`` from the tree's root: its
    intermediate files go to ``build/``, the extensions next to the sources."""
    remove()  # a half-replaced group must never load
    digests = {m: _digest(m) for m in MODULES}
    setup = MANIFEST.parent / "setup_hot_path.py"
    setup.parent.mkdir(exist_ok=True)
    setup.write_text(_SETUP.format(modules=list(MODULES), group=GROUP))
    try:
        done = subprocess.run(
            [sys.executable, str(setup), "build_ext", "--inplace"], cwd=ROOT,
            capture_output=True, text=True, check=False,
        )
    except OSError as exc:
        raise NativeBuildError(f"cannot run mypyc ({exc}); `make bootstrap` installs it") from exc
    if done.returncode != 0:
        remove()
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise NativeBuildError(
            f"mypyc failed (exit {done.returncode}); the hot path stays pure Python. "
            f"It needs gcc and Python's headers. Its last lines:\n{tail}"
        )
    # Hashes taken before compiling: a source edited meanwhile shows as stale.
    MANIFEST.write_bytes(orjson.dumps({"suffix": _SUFFIX, "sources": digests},
                                      option=orjson.OPT_INDENT_2))
    return state()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    try:
        if command == "build":
            if "--if-stale" in argv:
                current = state()
                if current.compiled and not current.stale:
                    print(f"hot path: {current.describe}, up to date")
                    return 0
            print(f"hot path: {build().describe}")
        elif command == "remove":
            print(f"hot path: pure Python ({len(remove())} files removed)")
        elif command == "status":
            print(f"hot path: {state().describe}")
        elif command == "check":
            print(f"hot path: {check().describe}")
        else:
            print("usage: python -m streams.native build [--if-stale] | remove | status | check",
                  file=sys.stderr)
            return 2
    except NativeBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
