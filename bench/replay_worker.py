"""Figure 4's worker, one job per process so each one's memory is its own.

    python -m bench.replay_worker produce BOOTSTRAP N JWKS   # N envelopes + signed checkpoints
    python -m bench.replay_worker raw BOOTSTRAP              # anchor: raw consume of the topics
    python -m bench.replay_worker replay BOOTSTRAP JWKS      # the auditors' replay, log alone
    python -m bench.replay_worker unverified BOOTSTRAP       # the same without checkpoints

Each prints one JSON line. The log is a realistic mix: whole application lifecycles (received,
accepted, eligibility, two scores, then either a rejection or an award with account, acceptance,
revised budget, eight quarterly instructions with their executions and results, a final report
and a repayment), every 20th application with an IT-problem exception, every 50th preceded by an
invalid submission; built from ``contracts.examples`` payloads with distinct ids, amounts that add
up (8 × 18,750,000 øre = the 150,000,000 øre award), and one pool big enough for every award.
Like the services' relays, ``produce`` gives every event of a service's topic its leaf in that
service's Merkle tree (``audit-leaf`` header) and signs a checkpoint per 2,000 leaves (the relay's
batch size) onto the service's audit topic, with keys made here (their JWKS written to JWKS), so
the replay verifies every event against a signed checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid
from datetime import date
from typing import Any

import psutil


def _rss() -> int:
    return psutil.Process().memory_info().rss


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- generation ------------------------------------------------------------------------------------

EVENT_SENTINEL = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
INS_SENTINELS = [f"1a5e0000-0000-4000-8000-00000000000{q}" for q in range(8)]


def _templates() -> tuple[dict[str, tuple[str, str, str]], list[str], list[str], Any]:
    """name → (topic, JSON with sentinels, event type); the awarded/rejected lifecycles."""
    from contracts import examples as ex
    from contracts.base import Actor
    from contracts.registry import envelope_of, spec_for
    from contracts.topics import FINANCE_RESULTS

    by_type = {type(p).__name__: p for p in ex.EXAMPLE_PAYLOADS}
    award = by_type["GrantAwarded"].model_copy(update={"sub_pool_amount_oere": 10**15})
    by_type["GrantAwarded"] = award
    raw_pool = ex.POOL.model_dump(mode="json")
    raw_pool["total_dkk"] = 10**13
    raw_pool["sub_pools"][0]["amount_dkk"] = 10**13
    pool_def = type(ex.POOL).model_validate(raw_pool)
    by_type["PoolPublished"] = by_type["PoolPublished"].model_copy(update={"definition": pool_def})
    # A revised budget covering the whole award, so eight quarterly payments stay within it.
    months = {"2023-01": {"project staff": 120_000_000, "materials and meetings": 30_000_000}}
    for name in ("RevisedBudgetSubmitted", "RevisedBudgetApproved"):
        raw = by_type[name].model_dump(mode="json")
        raw.update(months=months, total_oere=150_000_000)
        by_type[name] = type(by_type[name]).model_validate(raw)

    def envelope(payload: Any, name: str) -> tuple[str, str, str]:
        spec = spec_for(payload)
        # The finance topic carries finance's results only (contracts.topic_manifest): any other
        # producer role is refused there, and the replay would not fold them.
        actor = (Actor(id="finance-bench", role="finance") if spec.topic is FINANCE_RESULTS
                 else Actor(id="svc-bench", role="system"))
        env = envelope_of(
            payload, event_id=uuid.UUID(EVENT_SENTINEL), occurred_at=ex.T,
            correlation_id="bench-replay", causation_id=str(ex.SUB),
            actor=actor, aggregate_id=str(ex.APP), sequence=1)
        return spec.topic.name, env.model_dump_json(), spec.event_type

    templates: dict[str, tuple[str, str, str]] = {}
    simple = ["ApplicationReceived", "ApplicationAccepted", "EligibilityAssessed",
              "ApplicationScored", "GrantAwarded", "ApplicationRejected", "GrantAccountOpened",
              "AwardAccepted", "RevisedBudgetSubmitted", "RevisedBudgetApproved",
              "ReportSubmitted", "ReportAccepted", "RepaymentClaimed", "SubmissionInvalid",
              "ItProblemExceptionRequested", "ItProblemExceptionDecided"]
    for name in simple:
        templates[name] = envelope(by_type[name], name)
    for q in range(8):
        year, quarter = 2023 + q // 4, q % 4
        start, end = f"{year}-{quarter * 3 + 1:02d}", f"{year}-{quarter * 3 + 3:02d}"
        ins = uuid.UUID(INS_SENTINELS[q])
        templates[f"PaymentInstructed{q}"] = envelope(by_type["PaymentInstructed"].model_copy(
            update={"instruction_id": ins, "period_start": start, "period_end": end,
                    "due_date": date(year, quarter * 3 + 1, 1)}), "PaymentInstructed")
        templates[f"PaymentExecuted{q}"] = envelope(by_type["PaymentExecuted"].model_copy(
            update={"instruction_id": ins}), "PaymentExecuted")
        templates[f"PaymentResultRecorded{q}"] = envelope(by_type["PaymentResultRecorded"]
                                                          .model_copy(update={
                                                              "instruction_id": ins}), "x")
    head = ["ApplicationReceived", "ApplicationAccepted", "EligibilityAssessed",
            "ApplicationScored", "ApplicationScored"]
    awarded = head + ["GrantAwarded", "GrantAccountOpened", "AwardAccepted",
                      "RevisedBudgetSubmitted", "RevisedBudgetApproved"]
    for q in range(8):
        awarded += [f"PaymentInstructed{q}", f"PaymentExecuted{q}", f"PaymentResultRecorded{q}"]
    awarded += ["ReportSubmitted", "ReportAccepted", "RepaymentClaimed"]
    rejected = head + ["ApplicationRejected"]
    pool = envelope(by_type["PoolPublished"], "PoolPublished")
    return templates, awarded, rejected, pool


def _cvrs():
    """Valid CVR numbers (modulus 11), in order: one legal entity per application, so that
    "one award per applicant per programme" (R2, keyed on the CVR) holds in the generated log."""
    from contracts.register import cvr_is_valid
    candidate = 10_000_000
    while True:
        candidate += 1
        if cvr_is_valid(str(candidate)):
            yield str(candidate)


def generate(n: int):
    """Yield (topic, key, value, event type) for ``n`` events (whole lifecycles; stops at n).
    The event type goes into the ``event_type`` header, as the services' outbox relays do."""
    from contracts import examples as ex
    templates, awarded, rejected, pool = _templates()
    app_s, sub_s, rep_s, exc_s = str(ex.APP), str(ex.SUB), str(ex.REP), str(ex.EXC)
    counter = 0x6265_6E63_6800_0000_0000_0000_0000_0000  # "bench"
    from contracts.municipalities import municipalities
    codes = sorted(municipalities())
    muni_s, programme_s = '"municipality_code":"751"', '"programme":"familiehuse"'
    cvr_s, cvrs = f'"{ex.APPLICANT.cvr}"', _cvrs()

    def uid() -> str:
        nonlocal counter
        counter += 1
        return str(uuid.UUID(int=counter))

    topic, value, event_type = pool
    yield topic, b"pool:familiehus-2022", value.replace(EVENT_SENTINEL, uid()).encode(), event_type
    made = 1
    i = 0
    while made < n:
        i += 1
        app, sub, rep, exc = uid(), uid(), uid(), uid()
        ins = [uid() for _ in range(8)]
        seq = list(awarded if i % 2 else rejected)
        if i % 20 == 0:
            seq[2:2] = ["ItProblemExceptionRequested", "ItProblemExceptionDecided"]
        if i % 50 == 0:
            seq.insert(0, "SubmissionInvalid")
        key = app.encode()
        # One award per municipality and programme (R2): rotate municipalities, 98 per programme.
        muni = f'"municipality_code":"{codes[i % len(codes)]}"'
        programme = f'"programme":"bench-{i // len(codes)}"'
        cvr = f'"{next(cvrs)}"'
        for name in seq:
            if made >= n:
                return
            topic, value, event_type = templates[name]
            value = (value.replace(EVENT_SENTINEL, uid()).replace(app_s, app)
                     .replace(sub_s, sub).replace(rep_s, rep).replace(exc_s, exc)
                     .replace(muni_s, muni).replace(programme_s, programme)
                     .replace(cvr_s, cvr))
            if name[-1].isdigit():
                value = value.replace(INS_SENTINELS[int(name[-1])], ins[int(name[-1])])
            yield topic, key, value.encode(), event_type
            made += 1


class _Relays:
    """Each service's tree and signer, as its outbox relay keeps them."""

    BATCH = 2000

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        from audit.checkpoint import CheckpointSigner
        from audit.merkle import Frontier
        from contracts.topics import PLATFORM_SERVICES
        self.signers = {s: CheckpointSigner(s, Ed25519PrivateKey.generate())
                        for s in PLATFORM_SERVICES}
        self.trees = {s: Frontier() for s in PLATFORM_SERVICES}
        self.pending: dict[str, list[bytes]] = {s: [] for s in PLATFORM_SERVICES}
        self.sequence = dict.fromkeys(PLATFORM_SERVICES, 0)

    def leaf(self, service: str, topic: str, key: bytes, value: bytes) -> int:
        from audit.checkpoint import leaf_hash
        pending = self.pending[service]
        pending.append(leaf_hash(topic, key, value))
        return self.trees[service].size + len(pending) - 1

    def due(self, service: str) -> bool:
        return len(self.pending[service]) >= self.BATCH

    def checkpoint(self, service: str) -> bytes:
        from datetime import UTC, datetime
        tree = self.trees[service]
        before = tree.copy()
        tree.extend(self.pending[service])
        self.sequence[service] += 1
        value = self.signers[service].sign(
            sequence=self.sequence[service], tree_size=tree.size, root=tree.root(),
            previous_size=before.size, previous_root=before.root(),
            issued_at=datetime.now(UTC), added=self.pending[service])
        self.pending[service] = []
        return value

    def jwks(self) -> dict[str, Any]:
        from audit.keys import Keyring
        return Keyring(s.jwk() for s in self.signers.values()).to_jwks()


async def produce(bootstrap: str, n: int, jwks_path: str) -> dict[str, Any]:
    from aiokafka import AIOKafkaProducer
    from aiokafka.partitioner import DefaultPartitioner

    from contracts.audit import LEAF_HEADER
    from contracts.topics import ALL_TOPICS, audit_topic, emitting_service
    parts = {t.name: t.partitions for t in ALL_TOPICS}
    relays = _Relays()
    checkpoints = 0
    partitioner = DefaultPartitioner()
    prod = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                            max_batch_size=1024 * 1024, max_request_size=8 * 1024 * 1024)
    await prod.start()
    t0 = time.perf_counter()
    batches: dict[tuple[str, int], Any] = {}
    inflight: list[asyncio.Future[Any]] = []
    count = 0
    total_bytes = 0
    try:
        for topic, key, value, event_type in generate(n):
            headers = [("event_type", event_type.encode()), ("correlation_id", b"bench-replay")]
            service = emitting_service(topic)
            if service is not None:
                headers.append((LEAF_HEADER, str(relays.leaf(service, topic, key,
                                                            value)).encode()))
                if relays.due(service):
                    inflight.append(await prod.send(audit_topic(service).name,
                                                    relays.checkpoint(service),
                                                    key=service.encode()))
                    checkpoints += 1
            p = partitioner(key, list(range(parts[topic])), list(range(parts[topic])))
            b = batches.get((topic, p))
            if b is None:
                b = batches[(topic, p)] = prod.create_batch()
            if b.append(key=key, value=value, timestamp=None, headers=headers) is None:
                b.close()
                inflight.append(await prod.send_batch(b, topic, partition=p))
                b = batches[(topic, p)] = prod.create_batch()
                b.append(key=key, value=value, timestamp=None, headers=headers)
                if len(inflight) > 64:
                    await asyncio.gather(*inflight)
                    inflight = []
            count += 1
            total_bytes += len(value)
        for (topic, p), b in batches.items():
            b.close()
            inflight.append(await prod.send_batch(b, topic, partition=p))
        await asyncio.gather(*inflight)
        for service, pending in relays.pending.items():
            if pending:  # the last batch's checkpoint, after its events were acknowledged
                await prod.send_and_wait(audit_topic(service).name,
                                         relays.checkpoint(service), key=service.encode())
                checkpoints += 1
    finally:
        await prod.stop()
    with open(jwks_path, "w") as f:
        json.dump(relays.jwks(), f)
    s = time.perf_counter() - t0
    return {"produced": count, "seconds": s, "per_s": count / s, "checkpoints": checkpoints,
            "mean_bytes": total_bytes / max(count, 1)}


# -- the anchor and the replay ---------------------------------------------------------------------

async def raw(bootstrap: str) -> dict[str, Any]:
    """The same reader as the audit (LogReader: manual assignment from 0, ends found from the
    fetched high watermark), keeping nothing and decoding nothing."""
    from grants.audit import EVENT_TOPICS
    from servicekit.log_reader import LogReader
    reader = LogReader(bootstrap, EVENT_TOPICS, group_prefix="bench-raw")
    await reader.start()
    n = 0
    nbytes = 0
    t0 = time.perf_counter()
    try:
        async for batch in reader.read_to_end():
            n += len(batch)
            nbytes += sum(len(r.value) for r in batch)
    finally:
        await reader.stop()
    s = time.perf_counter() - t0
    return {"events": n, "seconds": s, "per_s": n / s, "bytes": nbytes, "peak_rss": _peak()}


async def replay_job(bootstrap: str, jwks_path: str) -> dict[str, Any]:
    """What ``grants audit replay --no-db`` does (``grants.audit.audit_replay`` without a
    database): the signed checkpoints first, then every event checked against its service's
    tree and folded while reading, the GC paused; then the trees' roots recomputed and the
    R23 checks."""
    import gc

    from audit.keys import Keyring
    from grants import audit
    with open(jwks_path, "rb") as f:
        keys = Keyring.from_jwks(f.read())
    base = _rss()
    t0 = time.perf_counter()
    pipeline = audit.VerifiedReplay(keys)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        await audit.read_verified(bootstrap, pipeline)
        t1 = time.perf_counter()
        after_read = _rss()
        assert pipeline.verifier is not None
        checked = pipeline.verifier.finish()
        t_trees = time.perf_counter()
        result = pipeline.fold.result(release=True)  # as VerifiedReplay.finish
    finally:
        if gc_was_enabled:
            gc.enable()
    t2 = time.perf_counter()
    n = result.events + result.duplicates
    services = checked.services.values()
    return {"mode": "checkpoints verified, fold while reading, GC paused (audit replay --no-db)",
            "events": n, "undecodable": len(pipeline.undecodable), "read_s": t1 - t0,
            "trees_s": t_trees - t1, "replay_s": t2 - t_trees, "seconds": t2 - t0,
            "per_s": n / (t2 - t0), "base_rss": base, "rss_after_read": after_read,
            "rss_after_replay": _rss(), "peak_rss": _peak(),
            "verified": result.verified and checked.verified,
            "checkpoints": sum(s.checkpoints for s in services),
            "events_verified": sum(s.events_verified for s in services),
            "violations": ([v["invariant"] for v in checked.violations]
                           + [v.invariant for v in result.violations])[:20],
            "applications": len(result.applications)}


async def unverified_job(bootstrap: str) -> dict[str, Any]:
    """For comparison in the same run: the replay as it was before checkpoints (``read_log``
    folding while reading, with the event-id → sha256 map the database chain check needs)."""
    import gc

    from grants import audit
    from audit.replay import Replay
    t0 = time.perf_counter()
    fold = Replay()
    published: dict[str, str] = {}
    gc.disable()
    try:
        await audit.read_log(bootstrap, fold=fold, published=published)
        result = fold.result(release=True)
    finally:
        gc.enable()
    s = time.perf_counter() - t0
    n = result.events + result.duplicates
    return {"mode": "read_log + fold, no checkpoints", "events": n, "seconds": s,
            "per_s": n / s, "peak_rss": _peak()}


def main() -> None:
    job, bootstrap = sys.argv[1], sys.argv[2]
    if job == "produce":
        out = asyncio.run(produce(bootstrap, int(sys.argv[3]), sys.argv[4]))
    elif job == "raw":
        out = asyncio.run(raw(bootstrap))
    elif job == "replay":
        out = asyncio.run(replay_job(bootstrap, sys.argv[3]))
    elif job == "unverified":
        out = asyncio.run(unverified_job(bootstrap))
    else:
        raise SystemExit(f"unknown job {job}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
