"""The compiled hot path's guard: a build that no longer matches its sources never runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

import streams.batch
from streams import native

SUFFIX = native._SUFFIX
MODULES = ("pkg/a.py", "pkg/sub/b.py")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A source tree of two modules, nothing compiled."""
    for module in MODULES:
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / module).write_text(f"X = {module!r}\n")
    monkeypatch.setattr(native, "ROOT", tmp_path)
    monkeypatch.setattr(native, "MANIFEST", tmp_path / "build" / "native.json")
    monkeypatch.setattr(native, "MODULES", MODULES)
    monkeypatch.setattr(native, "PACKAGES", ("pkg", "streams"))
    return tmp_path


def _compile(tree: Path, *, record: bool = True, modules: tuple[str, ...] = MODULES) -> None:
    """What a build leaves: an extension per module, the group's library, the manifest."""
    for module in modules:
        (tree / module.replace(".py", SUFFIX)).write_bytes(b"")
    library = native._library()
    library.parent.mkdir(parents=True, exist_ok=True)
    library.write_bytes(b"")
    if record:
        digests = {m: hashlib.sha256((tree / m).read_bytes()).hexdigest() for m in MODULES}
        (tree / "build").mkdir(exist_ok=True)
        native.MANIFEST.write_bytes(orjson.dumps({"suffix": SUFFIX, "sources": digests}))


def test_nothing_compiled_runs_as_python(tree: Path) -> None:
    state = native.check()
    assert state == native.NativeState((), ())
    assert "pure Python" in state.describe


def test_a_fresh_build_is_used(tree: Path) -> None:
    _compile(tree)
    state = native.check()
    assert state.compiled == MODULES
    assert state.stale == ()
    assert "compiled with mypyc (2 modules)" in state.describe


def test_an_edited_source_makes_the_build_stale_and_refused(tree: Path) -> None:
    _compile(tree)
    (tree / "pkg/sub/b.py").write_text("X = 'edited'\n")
    assert native.state().stale == ("pkg/sub/b.py",)
    with pytest.raises(native.NativeBuildError, match=r"pkg/sub/b\.py.*make native.*make pure"):
        native.check()


def test_a_build_without_its_manifest_is_stale(tree: Path) -> None:
    _compile(tree, record=False)
    assert native.state().stale == MODULES


def test_a_manifest_of_another_python_is_stale(tree: Path) -> None:
    _compile(tree)
    native.MANIFEST.write_bytes(orjson.dumps({"suffix": ".cpython-312-x.so", "sources": {}}))
    assert native.state().stale == MODULES


def test_a_partial_build_is_stale(tree: Path) -> None:
    # One group: a module without its extension would still have its old code in the
    # group's library, called directly by the other.
    _compile(tree, modules=MODULES[:1])
    assert native.state().stale == MODULES[:1]
    with pytest.raises(native.NativeBuildError):
        native.check()


def test_remove_deletes_the_build(tree: Path) -> None:
    _compile(tree)
    removed = native.remove()
    assert len(removed) == 3
    assert not native.MANIFEST.exists()
    assert native.check() == native.NativeState((), ())
    assert sorted(p.name for p in tree.rglob("*") if p.is_file()) == ["a.py", "b.py"]
    assert native.remove() == []


def test_main_reports_and_fails_with_the_reason(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert native.main(["status"]) == 0
    assert "pure Python" in capsys.readouterr().out
    _compile(tree)
    (tree / "pkg/a.py").write_text("X = 1\n")
    assert native.main(["check"]) == 1
    assert "make native" in capsys.readouterr().err
    assert native.main(["nonsense"]) == 2


def test_the_tree_runs_what_its_state_says() -> None:
    # The real tree: compiled modules are the ones imported (the suite refuses to start
    # on a stale build, see tests/conftest.py).
    state = native.state()
    assert state.stale == ()
    compiled = streams.batch.__file__ is not None and streams.batch.__file__.endswith(SUFFIX)
    assert compiled == ("streams/batch.py" in state.compiled)


def test_an_extension_of_a_module_no_longer_listed_is_stale_and_removed(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A build of an earlier, longer list: its extra extension would shadow its source
    # and import a group library that no longer holds its code.
    _compile(tree)
    monkeypatch.setattr(native, "MODULES", MODULES[:1])
    assert native.state().stale == ("pkg/sub/b.py",)
    assert len(native.remove()) == 3
    assert native.state() == native.NativeState((), ())
