"""A module as its Python source runs it, whether or not the hot path is compiled."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def python_source(module: ModuleType) -> ModuleType:
    """``module`` loaded again from its ``.py`` file, as ``<name>__source``.

    A module compiled by mypyc (streams/native.py) calls its own functions directly in
    C: patching its attributes intercepts nothing. A test that counts or intercepts such
    calls patches this copy instead, and checks that it agrees with the module itself.
    Relative imports resolve in the module's own package (to its compiled siblings)."""
    name = f"{module.__name__}__source"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    assert module.__file__ is not None
    stem = module.__name__.rpartition(".")[2]
    path = Path(module.__file__).with_name(f"{stem}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    source = importlib.util.module_from_spec(spec)
    sys.modules[name] = source  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(source)
    except BaseException:
        del sys.modules[name]
        raise
    return source
