"""The bare FastStream relay (anchor b): validate the Pydantic model, publish it on, awaited.

``python -m bench.peer_relay BOOTSTRAP IN_TOPIC OUT_TOPIC`` — what a team would write without the
platform's guarantees: no database, no inbox, no outbox; FastStream's default ack policy.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from faststream import FastStream
from faststream.kafka import KafkaBroker

from contracts.intake import PortalSubmission


def main() -> None:
    bootstrap, in_topic, out_topic = sys.argv[1:4]
    # Per-message INFO logs ("Received"/"Processed") off, as in any production deployment.
    broker = KafkaBroker(bootstrap, acks="all", log_level=logging.DEBUG, logger=None)
    app = FastStream(broker)

    @broker.subscriber(in_topic, group_id=f"peer-{in_topic}", auto_offset_reset="earliest",
                       session_timeout_ms=6000, heartbeat_interval_ms=300)
    async def relay(msg: PortalSubmission) -> None:
        await broker.publish(msg, topic=out_topic, key=str(msg.submission.application_id).encode())

    asyncio.run(app.run())


if __name__ == "__main__":
    main()
