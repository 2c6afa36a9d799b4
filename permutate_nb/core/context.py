"""The state a process's jobs share, held in one object jobs receive instead of module globals.

``Context`` keeps the home folder (``$PERMUTATE_HOME`` when not given), the loaded local
models, the URLs that fell back to a bundled snapshot, and the MAX_CONCURRENT_BATCHES slots.
``default_context()`` creates the process's default instance on first use (never at import);
a test or an embedding application can pass its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jobs.slots import Slots
from .store.paths import permutate_home

if TYPE_CHECKING:
    from .llm.local import ModelRegistry
    from .store.job_store import JobStore

__all__ = ["Context", "default_context", "open_store"]


def _models() -> ModelRegistry:
    from .llm.local import ModelRegistry  # stdlib-only at import; llama_cpp loads with the first model

    return ModelRegistry()


@dataclass(eq=False)
class Context:
    """What a process's jobs share: the home folder, loaded models, snapshot fallbacks and batch slots."""

    home: Path | None = None  # None: $PERMUTATE_HOME (default ~/.permutate) at each use
    models: ModelRegistry = field(default_factory=_models)
    fallbacks: set[str] = field(default_factory=set)  # URLs served from a bundled snapshot in this process
    batch_slots: dict[int, Slots] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def home_dir(self) -> Path:
        """The home folder: the one given, else ``$PERMUTATE_HOME`` (default ``~/.permutate``) read now."""
        return self.home or permutate_home()

    def store(self) -> JobStore:
        """A connection to the job store in the home folder."""
        from .store.job_store import JobStore

        return JobStore(self.home_dir() / "jobs.sqlite")

    def slots(self, limit: int) -> Slots:
        """The slots shared by every batch run with this MAX_CONCURRENT_BATCHES."""
        with self._lock:
            if limit not in self.batch_slots:
                self.batch_slots[limit] = Slots(limit)
            return self.batch_slots[limit]


_default: Context | None = None
_default_lock = threading.Lock()


def default_context() -> Context:
    """The process's shared ``Context``, created on first use so importing never touches the home folder."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Context()
        return _default



def open_store(store: Any, context: Context | None = None) -> JobStore | None:
    """A job's ``store=`` argument: ``True`` the context's job store, ``False``/None none, a JobStore itself."""
    if store is True:
        return (context or default_context()).store()
    return store or None
