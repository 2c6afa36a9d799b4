"""Live progress in a notebook: one ipywidgets bar per permutation, fed by engine events.

The widgets are created and displayed on the kernel's main thread before the job starts;
the engine's worker thread only sets their values (throttled), and ``close()`` removes
them when the job ends, so a saved notebook keeps the result and no stale widget views.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..core.events import JobStarted, Reporter

if TYPE_CHECKING:
    from ..core.results import JobResult, RunDetail

__all__ = ["NotebookProgress", "widgets_available"]

_MIN_INTERVAL = 0.1  # seconds between updates of one bar


def widgets_available() -> bool:
    """ipywidgets installed and a kernel with comms to show them."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Bar:
    def __init__(self, widgets: Any, name: str, total: int) -> None:
        self.total = total
        self.done = self.passed = self.failed = self.errored = 0
        self.label = widgets.Label(name, layout=widgets.Layout(width="180px"))
        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), layout=widgets.Layout(width="320px"))
        self.text = widgets.HTML(self._text(0.0))
        self.box = widgets.HBox([self.label, self.bar, self.text])
        self.last = 0.0

    def _text(self, elapsed: float) -> str:
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        return (f"{self.done}/{self.total} · <span style='color:green'>{self.passed} passed</span> · "
                f"<span style='color:#b00'>{self.failed} failed</span> · "
                f"<span style='color:#b60'>{self.errored} errored</span> · "
                f"{_duration(elapsed)} elapsed, ETA {_duration(eta)}")

    def record(self, detail: "RunDetail") -> None:
        self.done += 1
        if not detail.is_run_completed:
            self.errored += 1
        elif detail.passed:
            self.passed += 1
        else:
            self.failed += 1

    def refresh(self, elapsed: float, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= _MIN_INTERVAL or self.done == self.total:
            self.last = now
            self.bar.value = self.done
            self.bar.bar_style = "danger" if self.errored else ("success" if self.done == self.total else "")
            self.text.value = self._text(elapsed)


class NotebookProgress(Reporter):
    """Bars per permutation; build and ``show()`` on the main thread, then pass as the reporter."""

    def __init__(self, totals: dict[str, int]) -> None:
        """``totals``: runs per bar (a permutation, or a model for batches)."""
        import ipywidgets as widgets

        self._bars = {name: _Bar(widgets, name, total) for name, total in totals.items()}
        self.box = widgets.VBox([b.box for b in self._bars.values()])
        self._started = time.monotonic()

    def show(self, title: str = "permutate progress") -> None:
        """Display the bars; saved notebooks keep ``title`` as the plain-text fallback."""
        from IPython.display import display

        bundle = self.box._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        display({**data, "text/plain": title}, raw=True)

    def job_started(self, event: JobStarted) -> None:
        self._started = time.monotonic()

    def run_finished(self, index: int, detail: "RunDetail") -> None:
        bar = self._bars.get(detail.permutation_name)
        if bar is not None:
            bar.record(detail)
            bar.refresh(time.monotonic() - self._started)

    def job_finished(self, result: "JobResult") -> None:
        elapsed = time.monotonic() - self._started
        for bar in self._bars.values():
            bar.refresh(elapsed, force=True)

    def close(self) -> None:
        """Remove the bars (call on the main thread once the result is shown)."""
        for bar in self._bars.values():
            bar.box.close()
        self.box.close()
