"""Every test runs the code as it is in the tree: a stale compiled build would shadow it."""

from __future__ import annotations

import pytest

from streams import native


def pytest_configure(config: pytest.Config) -> None:
    """Stop before collecting when the compiled hot path no longer matches its sources:
    the tests would import the old compiled code, pass or fail for it, and say nothing."""
    try:
        native.check()
    except native.NativeBuildError as exc:
        pytest.exit(str(exc), returncode=4)


def pytest_report_header(config: pytest.Config) -> str:
    return f"quorum hot path: {native.state().describe}"
