"""One log stream: structlog's own lines and the libraries' stdlib records (FastStream, uvicorn,
aiokafka) come out as JSON lines, without ANSI colour codes, FastStream's per-message lines only
at DEBUG."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from servicekit import logging as svc_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    libs = {n: (list(logging.getLogger(n).handlers), logging.getLogger(n).level,
                logging.getLogger(n).propagate)
            for n in (*svc_logging._OWN_HANDLERS, "aiokafka")}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, (handlers, level, propagate) in libs.items():
        lib = logging.getLogger(name)
        lib.handlers[:], lib.propagate = handlers, propagate
        lib.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_every_line_is_json_without_colour(restore_logging: None, capsys: pytest.CaptureFixture[str],
                                           level: str) -> None:
    # What FastStream does at import: a coloured handler of its own, propagation off.
    fs = logging.getLogger(svc_logging.FASTSTREAM_LOGGER)
    fs.addHandler(logging.StreamHandler(sys.stdout))
    fs.propagate = False
    svc_logging.configure_logging("intake", level)
    fs.log(logging.DEBUG, "Received", extra={"topic": "grants.intake.applications.v1"})
    fs.info("\x1b[32mProcessed\x1b[0m")
    logging.getLogger("uvicorn.error").warning("\x1b[31mStarted\x1b[0m server process")
    logging.getLogger("aiokafka").info("connection attempt")  # below WARNING: dropped
    svc_logging.get_logger("x").info("batch_processed", records=3)
    out = capsys.readouterr()
    assert "\x1b" not in out.out + out.err and out.out == ""
    lines = _lines(out.err)
    events = [line["event"] for line in lines]
    per_message = ["Received"] if level == "DEBUG" else []
    assert events == [*per_message, "Processed", "Started server process", "batch_processed"]
    assert all(line["service"] == "intake" and "timestamp" in line for line in lines)
    assert lines[0]["logger"] == svc_logging.FASTSTREAM_LOGGER
    if level == "DEBUG":
        assert lines[0]["topic"] == "grants.intake.applications.v1"
