"""The helper process that draws a study's PNGs beside the computation (:class:`_PlotWorker`).

Opt-in (:attr:`jaxmle.report.Context.background_plots`): figures are pickled to one helper
process that imports matplotlib only and renders them with the Agg backend, byte for byte as
:func:`jaxmle.plot.save` does, while the study computes on. :mod:`jaxmle.report` holds the
process's one helper (``_worker``, started by ``_plot_worker``) and waits for its PNGs.
"""

from __future__ import annotations

import contextlib
import pathlib
import sys
from typing import Any

_WORKER = r"""
import io, pickle, signal, struct, sys, warnings
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
inp, out = sys.stdin.buffer, sys.stdout.buffer
while len(head := inp.read(8)) == 8:
    dpi, rc, blob = pickle.loads(inp.read(struct.unpack("<Q", head)[0]))
    try:
        with warnings.catch_warnings(record=True) as caught, matplotlib.rc_context(rc):
            warnings.simplefilter("always")
            fig = pickle.loads(blob)
            canvas = FigureCanvasAgg(fig)
            fig.set_dpi(dpi)
            buf = io.BytesIO()
            canvas.print_png(buf)  # as jaxmle.plot.save: savefig would draw the figure twice
        said = [(w.category.__module__, w.category.__qualname__, str(w.message), w.filename,
                 w.lineno) for w in caught]
        reply = (True, buf.getvalue(), said)
    except Exception as err:
        reply = (False, repr(err), [])
    data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack("<Q", len(data)) + data)
    out.flush()
"""


class _PlotWorker:
    """Draws pickled matplotlib figures to PNG in one helper process, in submission order.

    :meth:`submit` pickles the figure (a snapshot: the caller may drop or change it) and hands
    it to a thread that sends it to the helper, waits for the PNG and writes it atomically,
    while the main thread goes on computing. The helper imports matplotlib only (not jax, not
    jaxmle) and draws with the parent's matplotlib settings; its PNGs are byte for byte the
    ones :func:`jaxmle.plot.save` writes, and its warnings are re-issued here, from where
    matplotlib issued them. A figure that cannot be pickled (one holding a local function) is
    drawn by the caller as before; when the helper fails or dies, the thread draws the figure
    itself, so a failure there is the same error as without it.
    """

    def __init__(self) -> None:
        import concurrent.futures
        import subprocess

        pipe = subprocess.PIPE
        self._proc = subprocess.Popen([sys.executable, "-c", _WORKER], stdin=pipe, stdout=pipe,
                                      stderr=subprocess.DEVNULL)  # fmt: skip
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxmle-plots")
        self._pending: list[Any] = []
        self._warned: dict = {}  # warn_explicit's registry: each warning once per place

    def submit(self, fig: Any, path: pathlib.Path, dpi: int = 100) -> bool:
        """Queues ``fig`` for ``path``; False when it cannot be pickled (draw it yourself)."""
        import pickle

        import matplotlib

        try:
            blob = pickle.dumps(fig, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # e.g. a formatter that is a local function
            return False
        rc = {k: v for k, v in matplotlib.rcParams.items()
              if matplotlib.rcParamsOrig.get(k) != v}  # fmt: skip
        self._pending.append(self._pool.submit(self._draw, blob, rc, pathlib.Path(path), dpi))
        return True

    def _ask(self, blob: bytes, rc: dict, dpi: int) -> tuple[bool, Any, list[tuple]]:
        import pickle
        import struct

        data = pickle.dumps((dpi, rc, blob), protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.write(struct.pack("<Q", len(data)) + data)
        self._proc.stdin.flush()
        head = self._proc.stdout.read(8)
        if len(head) != 8:
            raise EOFError("the plot helper process exited")
        return pickle.loads(self._proc.stdout.read(struct.unpack("<Q", head)[0]))

    def _draw(self, blob: bytes, rc: dict, path: pathlib.Path, dpi: int) -> None:
        import pickle
        import warnings

        from ._io import atomic_open

        reply = None
        if self._proc.poll() is None:
            try:
                reply = self._ask(blob, rc, dpi)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError):
                self._proc.kill()  # broken: every later figure is drawn here
        if reply is None or not reply[0]:  # draw it here: the real error, with its traceback
            from . import plot

            plot.save(pickle.loads(blob), path, dpi)
            return
        for module, name, message, filename, lineno in reply[2]:  # as if drawn here
            category = getattr(sys.modules.get(module), name, UserWarning)
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
            if filename == "<string>":  # the helper's own savefig: jaxmle.plot.save's here
                from . import plot

                filename, lineno = plot.save.__code__.co_filename, plot.save.__code__.co_firstlineno
            warnings.warn_explicit(message, category, filename, lineno,
                                   registry=self._warned)  # fmt: skip
        with atomic_open(path, "wb") as f:
            f.write(reply[1])

    def wait(self, cancel: bool = False) -> None:
        """Waits for every queued PNG (``cancel``: drops those not started, ignores errors).

        Raises:
            Exception: the first drawing error (unless ``cancel``).
        """
        pending, self._pending = self._pending, []
        if cancel:
            for f in pending:
                f.cancel()
        errors = [f.exception() for f in pending if not f.cancelled()]
        first = next((e for e in errors if e is not None), None)
        if first is not None and not cancel:
            raise first

    def close(self) -> None:
        """Stops the thread and the helper (its stdin closes: it exits)."""
        import subprocess

        self._pool.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
