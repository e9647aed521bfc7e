"""Anchors measured in the same run as the figures: (a) the raw broker, (b) the bare relay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import (
    REPO,
    CpuMeter,
    RssSampler,
    TopicCounter,
    create_topics,
    produce_fast,
    producer,
)

Message = tuple[bytes | None, bytes, list[tuple[str, bytes]]]


async def raw_broker(bootstrap: str, n: int, size: int = 1024, partitions: int = 3
                     ) -> dict[str, float]:
    """aiokafka ``send()`` (acks=all, futures gathered) then one consumer reading them all."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, {topic: partitions})
    payload = os.urandom(size // 2).hex().encode()[:size]
    prod = producer(bootstrap, linger_ms=0, max_batch_size=16384)  # aiokafka defaults but acks
    await prod.start()
    try:
        await produce_fast(prod, topic, [(None, payload, [])] * 100)  # connection, metadata
        t0 = time.perf_counter()
        await produce_fast(prod, topic, ((str(i).encode(), payload, []) for i in range(n)))
        send_s = time.perf_counter() - t0
    finally:
        await prod.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                max_partition_fetch_bytes=8 * 1024 * 1024)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        got = 0
        t0 = time.perf_counter()
        deadline = t0 + 120
        while got < n + 100 and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=100, max_records=10000)
            got += sum(len(v) for v in batch.values())
        consume_s = time.perf_counter() - t0
    finally:
        await consumer.stop()
    return {"n": n, "size": size, "send_per_s": n / send_s,
            "consume_per_s": got / consume_s, "consumed": got}


async def pipe_rate(bootstrap: str, in_topic: str, messages: Sequence[Message], *,
                    out_topics: list[str], timeout: float,
                    match: Callable[[Any], bool] | None = None,
                    cpu: dict[str, int] | None = None) -> dict[str, Any]:
    """Produce ``messages`` onto ``in_topic`` as fast as the client can, while the (running,
    joined) pipeline consumes; time from the first send until the last expected output is read.

    Outputs are recognised by key (each message's key is its application id, which is also the
    output's key); ``match`` narrows further (e.g. on the event type header). ``cpu`` names
    processes whose CPU time over the run is reported (seconds, and ms per message).
    """
    keys = {k for k, _, _ in messages}
    extra = match or (lambda r: True)
    counter = TopicCounter(bootstrap, out_topics, lambda r: r.key in keys and extra(r))
    await counter.start()
    prod = producer(bootstrap)
    await prod.start()
    meter = CpuMeter({**(cpu or {}), "bench (load + reader)": os.getpid()},
                     alone=["bench (load + reader)"])
    try:
        meter.start()
        t0 = time.perf_counter()
        await produce_fast(prod, in_topic, messages)
        sent_s = time.perf_counter() - t0
        done = await counter.wait_for(len(messages), timeout)
        first = counter.first_at
        used = meter.stop()
    finally:
        await prod.stop()
        await counter.stop()
    n = len(messages)
    out: dict[str, Any] = {"n": n, "preload_s": sent_s,
                           "first_out_s": (first - t0) if first else None,
                           "cpu_s": used,
                           "cpu_ms_per_msg": {k: v * 1000 / max(counter.count, 1)
                                              for k, v in used.items()}}
    if done is None:
        elapsed = time.perf_counter() - t0
        got = counter.count
        out.update(done=False, got=got, elapsed_s=elapsed, per_s=got / elapsed)
    else:
        out.update(done=True, got=n, elapsed_s=done - t0, per_s=n / (done - t0))
    return out


@dataclass
class Peer:
    popen: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


def spawn(module: str, *args: str, log: str | None = None) -> Peer:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    popen = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPO,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True)
    return Peer(popen)


async def relay_anchor(bootstrap: str, warmup: Sequence[Message], messages: Sequence[Message],
                       *, timeout: float, log: str | None = None,
                       cpu: dict[str, int] | None = None) -> dict[str, Any]:
    """The bare FastStream relay in its own process over fresh topics; same harness as intake."""
    tag = uuid.uuid4().hex[:8]
    in_topic, out_topic = f"bench.relay.in.{tag}", f"bench.relay.out.{tag}"
    await create_topics(bootstrap, {in_topic: 3, out_topic: 3})
    peer = spawn("bench.peer_relay", bootstrap, in_topic, out_topic, log=log)
    sampler = RssSampler()
    sampler.watch("relay", peer.popen.pid)
    try:
        with sampler:
            w = await pipe_rate(bootstrap, in_topic, warmup, out_topics=[out_topic], timeout=60)
            if not w["done"]:
                raise RuntimeError("the bare relay did not relay the warm-up messages")
            r = await pipe_rate(bootstrap, in_topic, messages, out_topics=[out_topic],
                                timeout=timeout, cpu={"relay": peer.popen.pid, **(cpu or {})})
    finally:
        peer.stop()
    r["peak_rss"] = sampler.peak.get("relay")
    return r
