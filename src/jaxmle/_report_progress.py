"""Progress of a long computation in a study: a tqdm bar, or plain lines with rate and ETA.

:class:`Progress` is what :meth:`jaxmle.report.Context.bar` returns (pass it as
``progress=`` to :func:`jaxmle.sweep` or :func:`jaxmle.fit`); :func:`progress_line` is the
line it prints when tqdm is missing. :mod:`jaxmle.report` re-exports both.
"""

from __future__ import annotations

import sys
import time


def _si(x: float) -> str:
    """``1234567`` -> ``"1.2 M "``: a rate with an SI prefix and a space (the unit follows)."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.1f} {prefix} "
    return f"{x:.3g} "


def _duration(seconds: float) -> str:
    """``250`` -> ``"4 min 10 s"``: a time span for an ETA."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def progress_line(desc: str, done: int, total: int, elapsed: float, rate: float | None,
                  unit: str = "step") -> str:  # fmt: skip
    """The plain-text progress line :class:`Progress` prints when tqdm is missing.

    Args:
        desc: what is progressing.
        done: units finished.
        total: units in all.
        elapsed: seconds since the start.
        rate: units per second (None or 0: not known yet, no rate or ETA shown).
        unit: the unit's name.

    Returns:
        The line, e.g. ``"    sweep:  50% (3.1 s, 1.2 M step/s, ETA 3.0 s)"``.

    Example:
        >>> progress_line("sweep", 50, 100, 3.1, 16.7)
        '    sweep:  50% (3.1 s, 16.7 step/s, ETA 3.0 s)'
    """
    total = max(int(total), 1)
    parts = [f"{elapsed:.1f} s"]
    if rate:
        parts.append(f"{_si(rate)}{unit}/s")
        if done < total:
            parts.append(f"ETA {_duration((total - done) / rate)}")
    return f"    {desc}: {int(100 * done / total):3d}% ({', '.join(parts)})"


class Progress:
    """A progress display with rate and ETA: a tqdm bar when tqdm is installed, else lines.

    Call it as ``progress(done, total)`` (the signature :func:`jaxmle.sweep` and
    :func:`jaxmle.fit` take for ``progress=``; they call it when a chunk has finished), then
    :meth:`close`. The plain fallback prints a line at every quarter; its rate is measured
    from the first report on (so the first line has none), so that the first chunk's
    compilation does not skew the ETA.

    Args:
        desc: what is progressing.
        total: total units of work.
        enabled: show anything at all.
        unit: unit name for the bar.

    Example:
        >>> bar = Progress("sweep", 100, enabled=False)
        >>> bar(50); bar.close()
    """

    def __init__(self, desc: str, total: int, *, enabled: bool = True, unit: str = "step"):
        self.desc, self.total, self.enabled, self.unit = desc, max(int(total), 1), enabled, unit
        self._bar = None
        self._last_pct = -1
        self._t0 = time.perf_counter()
        self._first: tuple[float, int] | None = None
        if enabled:
            try:
                from tqdm.auto import tqdm

                # tqdm's default format shows rate and ETA; smoothing=0 averages the rate over
                # the whole run, as updates arrive in irregular chunk-sized jumps.
                self._bar = tqdm(total=self.total, desc=desc, unit=unit, unit_scale=True,
                                 leave=False, file=sys.stderr, smoothing=0)  # fmt: skip
            except ImportError:
                self._bar = None

    def __call__(self, done: int, total: int | None = None) -> None:
        """Reports ``done`` units out of ``total`` (or the total given at construction)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(int(done) - self._bar.n)
            return
        total = total or self.total
        pct = int(100 * done / total)
        now = time.perf_counter()
        if self._first is None:
            self._first = (now, int(done))
        if pct // 25 > self._last_pct // 25 or (pct == 100 and self._last_pct != 100):
            self._last_pct = pct
            print(progress_line(self.desc, done, total, now - self._t0, self._rate(now, done),
                                self.unit), file=sys.stderr, flush=True)  # fmt: skip

    def _rate(self, now: float, done: int) -> float | None:
        # None at the first report: its time is mostly compilation, a poor guide to the rest.
        t1, d1 = self._first
        return (done - d1) / (now - t1) if done > d1 and now > t1 else None

    def close(self) -> None:
        """Closes the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
