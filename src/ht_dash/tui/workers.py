"""One handler for what no worker expected: shown in the UI, logged redacted, never swallowed;
and the crash report for what nothing caught.

Workers run with `exit_on_error=False` (a crash report could print a token among frame locals)
and catch the errors they expect (`HtError`). Anything else used to vanish with the worker; this
manager reports it instead: a notification with a title and one line, and a log line.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual.worker import Worker, WorkerState
from textual.worker_manager import WorkerManager

from ht_dash.api.errors import HtError
from ht_dash.logs import redact

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger(__name__)


class ReportingWorkerManager(WorkerManager):
    """Textual's worker manager; a worker that ends in error is reported by `report_failure`."""

    def _remove_worker(self, worker: Worker) -> None:
        super()._remove_worker(worker)
        if worker.state is WorkerState.ERROR and not worker.exit_on_error:
            report_failure(self._app, worker)


def report_failure(app: App, worker: Worker) -> None:
    error = worker.error
    if error is None:
        return
    what = worker.name or worker.group or "a background task"
    exc_info = (type(error), error, error.__traceback__)
    log.error("worker %s failed: %s", what, redact(repr(error)), exc_info=exc_info)
    if isinstance(error, HtError):
        title, line = error.title, error.message
    else:
        title = "Internal error"
        line = f"{type(error).__name__} in {what}: {error}"
    line = redact(line.splitlines()[0] if line.strip() else type(error).__name__)
    hint = "" if isinstance(error, HtError) else " (run with --debug and report it)"
    app.notify(escape(line[:200]) + hint, title=title, severity="error", timeout=12)


def crash_report(app: App) -> None:
    """Textual's crash report, without frame locals (they can hold the token), redacted."""
    app.bell()
    report = redact(traceback.format_exc())
    hint = "\nht-dash crashed. Please report this (run with --debug for a redacted log)."
    app._exit_renderables.append(Text(report + hint))
    app._close_messages_no_wait()
