"""One log stream per process: structlog JSON lines on stderr, also for FastStream, uvicorn and
aiokafka (stdlib loggers rendered by the same processors), never ANSI colour codes.

No personal data in logs: log ids and codes, never names, CPR numbers or free text. FastStream's
per-message lines ("Received"/"Processed") are at DEBUG (``GRANTS_LOG_LEVEL=DEBUG`` shows them);
at INFO each consumer writes one ``batch_processed`` line per batch (servicekit.consumer).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

bind = structlog.contextvars.bind_contextvars
clear = structlog.contextvars.clear_contextvars
bound = structlog.contextvars.bound_contextvars

# The logger FastStream's broker writes its per-message lines to (servicekit.service).
FASTSTREAM_LOGGER = "faststream.access.kafka"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Libraries that install handlers of their own (FastStream: coloured text on stdout/stderr,
# propagation off): their records go to the root handler instead.
_OWN_HANDLERS = ("faststream", "faststream.access", FASTSTREAM_LOGGER, "uvicorn", "uvicorn.error",
                 "uvicorn.access")


def _strip_ansi(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and "\x1b" in value:
            event[key] = _ANSI.sub("", value)
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    numeric = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(numeric)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name,
                           structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _strip_ansi,
                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in _OWN_HANDLERS:
        lib = logging.getLogger(name)
        lib.handlers.clear()
        lib.propagate = True
        lib.setLevel(logging.NOTSET)
    # Per connection attempt / per request: only problems, unless debugging.
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[*shared, _strip_ansi, structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
