"""One job run again and again: ``quorum label-studio connect --every``.

Label Studio does not retry a webhook that failed, so what happened there while Quorum
could not be reached stays missing until ``connect`` runs again
(:mod:`streams.label_studio_sync`). ``--every`` runs it on a schedule instead of by hand:
a pass that fails because something could not be reached is reported, and the next pass
tries again. Pure: the clock and the sleep are passed in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(text: str) -> float:
    """Seconds in an interval written as ``900``, ``90s``, ``15m``, ``1h`` or ``1d``.

    ``ValueError`` says what to write instead.
    """
    body = text.strip().lower()
    unit = _UNITS.get(body[-1:], 1.0)
    if body[-1:] in _UNITS:
        body = body[:-1]
    try:
        seconds = float(body) * unit
    except ValueError:
        raise ValueError(f"{text!r} is not an interval: write seconds (900) or a number with "
                         "s, m, h or d (90s, 15m, 1h, 1d)") from None
    if not math.isfinite(seconds) or seconds < 1:
        raise ValueError(f"an interval of {text!r} is too short: give at least 1 second "
                         "(each pass reads the whole Label Studio export)")
    return seconds


def run_periodically(
    run: Callable[[], None],
    every_s: float,
    *,
    retry_on: tuple[type[Exception], ...],
    on_error: Callable[[Exception, float], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    passes: int | None = None,
) -> int:
    """Run ``run`` now, then each time ``every_s`` seconds after the previous pass
    started (at once if it took longer); how many passes failed.

    A pass raising one of ``retry_on`` is handed to ``on_error`` with the seconds until
    the next pass, and the schedule goes on; any other exception ends it. ``passes``
    bounds the number of passes (``None``: until interrupted).
    """
    failed = done = 0
    while passes is None or done < passes:
        started = clock()
        error: Exception | None = None
        try:
            run()
        except retry_on as exc:
            error = exc
        done += 1
        last = passes is not None and done >= passes
        wait = 0.0 if last else max(0.0, started + every_s - clock())
        if error is not None:
            failed += 1
            on_error(error, wait)
        if not last:
            sleep(wait)
    return failed
