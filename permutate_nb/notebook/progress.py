"""Live progress in a notebook: one ipywidgets bar per permutation (or model), fed by engine events.

The widgets are created and displayed on the kernel's main thread before the job starts; the
engine's worker thread only sets their values (throttled), and a ticker thread moves the clock
every second, so elapsed time and ETA move while nothing finishes and the current stage
(loading the model, translating N prompts, running) is named. When the job ends, ``close()``
replaces the widget's output with a static line (HTML and text): a saved notebook keeps that
line, never a widget whose model is gone ("Error displaying widget: model not found").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.html_text import escape_html
from ..core.jobs.events import JobStarted, Reporter
from ..core.stats.units import counted
from ..core.status import RunOutcome

if TYPE_CHECKING:
    from ..core.jobs.permutate import JobPlan
    from ..core.jobs.permutate_result import RunDetail
    from ..core.jobs.result_base import Result

__all__ = ["NotebookProgress", "widgets_available", "with_progress", "outcome_word", "permutation_bars", "job_bars",
           "job_progress"]

_MIN_INTERVAL = 0.1  # seconds between updates of one bar by run events
_TICK = 1.0  # seconds between clock updates


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


def outcome_word(result: Any) -> str:
    """How a job ended, from its result's status (``completed``, ``cancelled``, ``SUCCESS``...)."""
    status = getattr(result, "status", None)
    if not isinstance(status, str):  # a batch's DataFrame keeps its status in attrs ("status" is a column)
        status = getattr(result, "attrs", {}).get("status", "done")
    status = str(status).lower()
    return "cancelled" if "cancel" in status else ("interrupted" if "interrupt" in status else "done")


class _Bar:
    """One bar's counts in RunOutcome's words (passed / wrong / errored); ``verdicts=False`` (batches,
    evals) counts done / errored."""

    def __init__(self, widgets: Any, label: str, total: int, verdicts: bool) -> None:
        self.name = label
        self.total = total
        self.verdicts = verdicts
        self.done = self.passed = self.wrong = self.errored = 0
        self.label = widgets.HTML(f"<span title='{escape_html(label)}'>{escape_html(label)}</span>",
                                  layout=widgets.Layout(min_width="180px"))
        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1), layout=widgets.Layout(width="320px"))
        self.text = widgets.HTML()
        self.box = widgets.HBox([self.label, self.bar, self.text], layout=widgets.Layout(flex_flow="row wrap"))
        self.last = 0.0

    def counts(self, coloured: bool) -> str:
        def part(n: int, word: str, colour: str) -> str:
            return f"<span style='color:{colour}'>{n} {word}</span>" if coloured else f"{n} {word}"

        if self.verdicts:
            words = [part(self.passed, RunOutcome.PASSED, "green"), part(self.wrong, RunOutcome.WRONG, "#b00")]
        else:
            words = [part(self.done - self.errored, "done", "green")]
        return " · ".join([f"{self.done}/{self.total}", *words, part(self.errored, RunOutcome.ERRORED, "#b60")])

    def record(self, detail: RunDetail) -> None:
        self.done += 1
        outcome = RunOutcome.of(detail.is_run_completed, detail.passed)
        if outcome is RunOutcome.ERRORED:
            self.errored += 1
        elif outcome is RunOutcome.PASSED:
            self.passed += 1
        else:
            self.wrong += 1

    def refresh(self, clock: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= _MIN_INTERVAL or self.done == self.total:
            self.last = now
            self.bar.value = self.done
            self.bar.bar_style = "danger" if self.errored else ("success" if self.done == self.total else "")
            self.text.value = f"{self.counts(True)} · {clock}"


class NotebookProgress(Reporter):
    """Bars per permutation; build and ``show()`` on the main thread, then pass as the reporter."""

    def __init__(self, totals: dict[str, int], *, labels: dict[str, str] | None = None, verdicts: bool = True) -> None:
        """``totals``: runs per bar (a permutation, or a model); ``labels``: what each bar is called on screen."""
        import ipywidgets as widgets

        labels = labels or {}
        self._bars = {name: _Bar(widgets, labels.get(name, name), total, verdicts) for name, total in totals.items()}
        self.stage_text = widgets.HTML("<span style='color:#666'>starting</span>")
        self.box = widgets.VBox([self.stage_text, *(b.box for b in self._bars.values())])
        self._started = time.monotonic()  # the clock covers model loading and translation too
        self._running: float | None = None  # when the runs started (ETA is measured from here)
        self._last_finish = 0.0
        self._stage = "starting"
        self._steps: dict[str, str] = {}  # an eval's steps, in the order they were first heard
        self._handle: Any = None
        self._title = "permutate progress"
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="permutate-progress-clock", daemon=True)
        self._ticker.start()

    # -- display ---------------------------------------------------------------------------
    def show(self, title: str = "permutate progress") -> None:
        """Display the bars in the current cell (replaced by a static line on ``close``)."""
        from IPython.display import display

        self._title = title
        bundle = self.box._repr_mimebundle_()
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        self._handle = display({**data, "text/plain": title}, raw=True, display_id=True)

    def clock(self) -> str:
        """``0:07 elapsed · ETA 0:21``; the ETA counts down between finished runs."""
        now = time.monotonic()
        done = sum(b.done for b in self._bars.values())
        total = sum(b.total for b in self._bars.values())
        eta = "–"
        if self._running is not None and done and done < total:
            per_run = (self._last_finish - self._running) / done
            eta = _duration(max(per_run * (total - done) - (now - self._last_finish), 0.0))
        elif total and done >= total:
            eta = "0:00"
        return f"{_duration(now - self._started)} elapsed · ETA {eta}"

    def _tick(self) -> None:
        while not self._stop.wait(_TICK):
            clock = self.clock()
            for bar in self._bars.values():
                bar.refresh(clock, force=True)

    # -- reporter hooks (called on the engine's thread) ----------------------------------------
    def stage(self, name: str, detail: str = "") -> None:
        """Shows the stage under way (loading the model, translating) above the bars."""
        self._stage = f"{name} {detail}".strip()
        self.stage_text.value = f"<span style='color:#666'>{escape_html(self._stage)}…</span>"

    def job_started(self, event: JobStarted) -> None:
        """Shows ``running N runs`` and starts the ETA's clock (the stages before count only in elapsed time)."""
        self._running = self._last_finish = time.monotonic()
        self.stage("running", counted(event.total_runs, "run"))

    def step(self, name: str, done: int, total: int) -> None:
        """An eval's steps side by side: ``answering 4/10 · judging 2/10``."""
        self._steps[name] = f"{name} {done}/{total}"
        self._stage = " · ".join(self._steps.values())
        self.stage_text.value = f"<span style='color:#666'>{escape_html(self._stage)}</span>"

    def run_finished(self, index: int, detail: RunDetail) -> None:
        """Counts the run on its bar (by the detail's ``permutation_name``) and redraws that bar with the clock."""
        bar = self._bars.get(detail.permutation_name)
        if bar is not None:
            self._last_finish = time.monotonic()
            bar.record(detail)
            bar.refresh(self.clock())

    def job_finished(self, result: Result) -> None:
        """Redraws every bar with the final counts and time (``close`` then replaces them with a line)."""
        clock = self.clock()
        for bar in self._bars.values():
            bar.refresh(clock, force=True)

    # -- the end ---------------------------------------------------------------------------
    def end_lines(self, outcome: str) -> list[str]:
        """The static record of the job: one line per bar, with how it ended and the time taken."""
        elapsed = _duration(time.monotonic() - self._started)
        return [f"{bar.name}: {bar.counts(False)} · {elapsed} · {outcome}"
                for bar in self._bars.values()]

    def close(self, outcome: str = "done") -> None:
        """Stop the clock, remove the widgets and leave a static line in their place (main thread)."""
        self._stop.set()
        self._ticker.join(2 * _TICK)  # no clock update may land after the widgets are gone
        lines = self.end_lines(outcome)
        _close_tree(self.box)
        if self._handle is not None:
            body = "".join(f"<div>{escape_html(line)}</div>" for line in lines)
            self._handle.update({
                "text/plain": "\n".join([self._title, *lines]),
                "text/html": f"<div class='permutate-progress-end' style='font-family:sans-serif;font-size:12px;"
                             f"color:#555'>{escape_html(self._title)}{body}</div>",
            }, raw=True)


def permutation_bars(plan: JobPlan) -> tuple[dict[str, int], str, dict[str, str]]:
    """A permutate job's bars: runs per permutation, the title, and labels naming the model that runs."""
    perms = plan.request.permutations
    per = plan.total_runs // max(len(perms), 1)
    return ({p.name: per for p in perms}, f"permutate progress: {plan.request.name} ({counted(plan.total_runs, 'run')})",
            {p.name: f"{p.name} · {p.llm.credit() if p.llm.replaces else p.llm.summary()}" for p in perms})


def _close_tree(widget: Any) -> None:
    """Close a widget, its children and their layout and style models: nothing is left in the kernel."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if part is not None:
            part.close()
    widget.close()


def with_progress(
    totals: dict[str, int],
    title: str,
    labels: dict[str, str] | None,
    start: Callable[[Reporter], Any],
    *,
    verdicts: bool = True,
) -> Any:
    """Run ``start(reporter)`` with bars per key of ``totals`` (a tqdm bar outside a kernel), then close them."""
    if not widgets_available():  # a terminal IPython: a tqdm bar on stderr
        from ..tqdm_reporter import TqdmReporter

        return start(TqdmReporter(verdicts=verdicts))
    progress = NotebookProgress(totals, labels=labels, verdicts=verdicts)
    progress.show(title)
    outcome = "stopped"
    try:
        result = start(progress)
        outcome = outcome_word(result)
        return result
    finally:
        progress.close(outcome)


Bars = tuple[dict[str, int], str, "dict[str, str] | None", bool]


def plan_bars(kind: str, plan: Any) -> Bars | None:
    """A plan's bars: runs per bar, title, labels, whether runs have verdicts (None: the kind shows none)."""
    if kind in ("permutate", "bfcl"):
        return (*permutation_bars(plan), True)
    if kind == "batch":
        totals: dict[str, int] = {}
        for row in plan.rows:
            totals[row.model] = totals.get(row.model, 0) + 1
        return totals, f"permutate batch: {len(plan.rows)} rows", None, False
    if kind == "eval":
        return ({m: len(plan.dataset.cases) for m in plan.models},
                f"permutate eval: {plan.dataset.name} ({len(plan.units)} generations)", None, False)
    return None


def job_bars(job: Any) -> Bars | None:
    """A job's bars, from its plan."""
    return plan_bars(job.kind, job.plan)


def job_progress(job: Any, start: Callable[[Reporter | None], Any]) -> Any:
    """``start(reporter)`` with the job's live bars in the current cell (``pn.run``, ``pn.resume``, ``pn.batch``,
    ``pn.evaluate``, ``pn.bfcl``); ``start(None)`` without a kernel that shows widgets."""
    bars = job_bars(job)
    if bars is None or not widgets_available():
        return start(None)
    totals, title, labels, verdicts = bars
    return with_progress(totals, title, labels, start, verdicts=verdicts)
