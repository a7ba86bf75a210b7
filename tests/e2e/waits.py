"""Waiting in the end-to-end tests: on an event, with a deadline, never for a guessed time.

`wait_until(probe, timeout, what)` calls `probe()` every `interval` seconds and returns as soon as the
observed value satisfies `until` (by default: is truthy). At the deadline it raises an `AssertionError`
that names `what` and shows the last observed value (through `describe`) and, if given, `detail()` (say,
the tail of a log). A `time.sleep` left in a test is either this poll interval, a measurement window
("stream for 5 s and count the frames"), or the pace between input events; each says so in a comment.
"""

from __future__ import annotations

import time
from typing import Any, Callable


def _short(value: Any, limit: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def wait_until(probe: Callable[[], Any], timeout: float, what: str, *, until: Callable[[Any], Any] = bool,
               interval: float = 0.05, describe: Callable[[Any], str] = _short,
               detail: Callable[[], str] | None = None, ignore: tuple = ()) -> Any:
    """Polls `probe()` until `until(value)` holds and returns that value; `AssertionError` after `timeout`
    seconds. Exceptions of the types in `ignore` raised by `probe` count as "not yet" (and are shown as
    the last observed state)."""
    deadline = time.monotonic() + timeout
    last: Callable[[], str] = lambda: "nothing observed yet"
    while True:
        try:
            value = probe()
        except ignore as e:
            last = lambda e=e: f"{type(e).__name__}: {e}"
        else:
            if until(value):
                return value
            last = lambda value=value: describe(value)  # described only if it stays the last one
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)  # the poll interval
    msg = f"timed out after {timeout:g} s waiting for {what}; last observed: {last()}"
    if detail is not None:
        msg += "\n" + detail()
    raise AssertionError(msg)
