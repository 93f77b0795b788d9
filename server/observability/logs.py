"""Log lines: one JSON object per line (THREEMIN_LOG_FORMAT=json) or text, each with its request id.

`log_config(settings)` is a logging.config dictionary for `threemin serve`,
given to uvicorn as its `log_config` so that its own loggers write the same
lines (its workers apply it again in their processes). Messages are written as
their code formats them: code must never pass a key, token or password to a
logger (tests/test_secrets_never_leak.py checks a whole session).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from server.observability.request_info import current_request_id
from server.settings import Settings

# Extra attributes the access log passes (middleware.py), kept as JSON fields.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written for (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for name in EXTRA_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def lean_log_records() -> None:
    """Skip what every log record gathers and no line of ours prints.

    The logging HOWTO's "Optimization" table: the caller's file and line
    (a stack walk), thread, process and task names. The access log writes a
    line per request, and gathering these cost about a tenth of a createRecord.
    Without the caller lookup, `stack_info=True` prints nothing either: no code
    of ours passes it (exceptions keep their tracebacks).
    """
    logging._srcfile = None  # type: ignore[attr-defined]  # no findCaller: no %(pathname)s/%(lineno)d in our formats
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12+; harmless before


def log_config(settings: Settings) -> dict[str, Any]:
    level = settings.log_level.upper()
    formatter = {"()": JsonFormatter} if settings.log_format == "json" else {"format": TEXT_FORMAT}
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "threemin", "filters": ["request_id"]}
    return {
        "version": 1,
        # Module-level loggers (threemin.graphql, tortoise…) exist before this runs.
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"threemin": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": level},
        "loggers": {
            # uvicorn's own loggers write through the root handler, not their own.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
