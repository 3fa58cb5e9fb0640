"""The load generator's collection pauses, read from its GC log: only those while it sends."""

from __future__ import annotations

from pathlib import Path

from bench.java_producer import pauses_while_sending

LOG = """\
[2026-11-30T12:50:52.175+0000][0.005s] Using Serial
[2026-11-30T12:50:52.924+0000][0.754s] GC(0) Pause Young 204M->145M(2022M) 162.664ms
[2026-11-30T12:50:53.238+0000][1.068s] GC(1) Pause Full (System.gc()) 322M->124M(2022M) 234.584ms
[2026-11-30T12:51:01.104+0000][8.934s] GC(2) Pause Young 329M->154M(2022M) 49.282ms
[2026-11-30T12:51:13.906+0000][21.735s] GC(3) Pause Full 359M->154M(2022M) 233.727ms
"""


def test_only_the_pauses_after_the_requested_collection_count(tmp_path: Path) -> None:
    log = tmp_path / "gc.log"
    log.write_text(LOG)
    assert pauses_while_sending(log) == [49.282, 233.727]


def test_no_log_or_no_requested_collection_yet_gives_none(tmp_path: Path) -> None:
    assert pauses_while_sending(tmp_path / "missing.log") == []
    log = tmp_path / "gc.log"
    log.write_text(LOG.splitlines(keepends=True)[1])
    assert pauses_while_sending(log) == []
