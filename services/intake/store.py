"""asyncpg repositories of the intake service: applications, the submission index, pools.

Every method runs on the caller's connection, inside the caller's transaction.

Lock order for a submission: its submission id in the index first (``claim_submission``), then
the application row (``lock_application``). Contacts and decisions lock the application only.
Set-based (:meth:`IntakeStore.load`): all submission ids of a batch in id order, then all its
applications in id order, in one statement; so a batch and a single submission never wait on
each other in opposite orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from contracts.assessment import PoolPublished
from contracts.register import Organisation, OrganisationRecorded
from services.intake.domain import ApplicationState, RegisterEntry
from servicekit.jsonb_repository import JsonbTable

_ZERO = UUID(int=0)
# The applicant's CVR and the pool are columns too, for the set-based load and the console.
APPLICATIONS = JsonbTable("applications", "application_id", ApplicationState,
                          key_of=lambda a: a.application_id,
                          columns={"applicant_cvr": lambda a: a.applicant_cvr,
                                   "pool_id": lambda a: a.pool_id})
# The JSON of a fresh state, with a placeholder for its id (filled in by SQL for many ids).
_FRESH_TEMPLATE = ApplicationState(application_id=_ZERO).model_dump_json()


@dataclass(frozen=True)
class IndexedSubmission:
    application_id: UUID
    submitter_cvr: str | None


@dataclass(frozen=True)
class Claim:
    """The application a submission id is bound to, and whether this transaction bound it."""

    application_id: UUID
    new: bool


@dataclass
class Loaded:
    """What :meth:`IntakeStore.load` found, all rows locked until the transaction ends.

    ``claims``: submission id → its claim (``new``: bound by this statement, to the application
    and cvr it was asked to bind). ``states``: application id → its state (fresh for a row this
    statement created). ``pool_versions``: pool id → the version stored (absent: unpublished);
    ``pool_rows``: the stored JSON of those whose version the caller did not have.
    """

    claims: dict[UUID, Claim] = field(default_factory=dict)
    states: dict[UUID, ApplicationState] = field(default_factory=dict)
    pool_versions: dict[str, int] = field(default_factory=dict)
    pool_rows: dict[str, str] = field(default_factory=dict)


# One round trip for a whole batch (or one HTTP submission): claim the submission ids (in id
# order), then create the missing application rows and lock all of them (in id order), and read
# the pools' versions (their JSON only where the caller's copy is not that version). The CTEs run
# in that order because each one's input waits on the previous one's output. A row another
# transaction committed while this statement waited for it is not in this statement's snapshot;
# the caller reads those few again (see ``load``).
_LOAD = """
WITH want AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])
        AS t(submission_id, application_id, submitter_cvr)
), claimed AS (
    INSERT INTO submission_index (submission_id, application_id, submitter_cvr)
    SELECT submission_id, application_id, submitter_cvr FROM want ORDER BY submission_id
    ON CONFLICT (submission_id) DO NOTHING
    RETURNING submission_id
), created AS (
    INSERT INTO applications (application_id, state)
    SELECT id, replace($5::text, $6::text, id::text)::jsonb FROM unnest($4::uuid[]) AS id
    WHERE (SELECT count(*) FROM claimed) >= 0
    ORDER BY id
    ON CONFLICT (application_id) DO NOTHING
    RETURNING application_id
), locked AS (
    SELECT application_id, state::text AS state FROM applications
    WHERE application_id = ANY($4::uuid[]) AND (SELECT count(*) FROM created) >= 0
    ORDER BY application_id
    FOR UPDATE
)
SELECT 1 AS kind, submission_id AS id, NULL::uuid AS ref, NULL::text AS name,
       NULL::text AS body, NULL::int AS version FROM claimed
UNION ALL
SELECT 2, submission_id, application_id, NULL, NULL, NULL FROM submission_index
    WHERE submission_id = ANY($1::uuid[])
UNION ALL
SELECT 3, application_id, NULL, NULL, NULL, NULL FROM created
UNION ALL
SELECT 4, application_id, NULL, NULL, state, NULL FROM locked
UNION ALL
SELECT 5, NULL, NULL, p.pool_id,
       CASE WHEN p.version IS DISTINCT FROM c.version THEN p.published::text END, p.version
    FROM unnest($7::text[], $8::int[]) AS c(pool_id, version) JOIN pools p USING (pool_id)
"""
_NEW, _BOUND, _CREATED, _LOCKED, _POOL = 1, 2, 3, 4, 5


class IntakeStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- applications ----------------------------------------------------------------------------
    async def read_application(self, application_id: UUID) -> ApplicationState | None:
        return await APPLICATIONS.read(self.conn, application_id)

    async def lock_application(self, application_id: UUID) -> ApplicationState:
        """The application's state, locked until the transaction ends; a new one if unknown.

        The empty row inserted for an unknown id is what a concurrent writer waits on; it stays
        only if this transaction commits (a refusal that raises rolls it back).
        """
        state = await APPLICATIONS.lock(
            self.conn, application_id,
            create=lambda: ApplicationState(application_id=application_id))
        assert state is not None  # the row was just ensured, in this transaction
        return state

    async def save_application(self, state: ApplicationState) -> None:
        await APPLICATIONS.save(self.conn, state)

    async def save_applications(self, states: Iterable[ApplicationState]) -> None:
        """:meth:`save_application` for many applications in one statement."""
        ids, docs, cvrs, pools = [], [], [], []
        for state in states:
            ids.append(state.application_id)
            docs.append(state.model_dump_json())
            cvrs.append(state.applicant_cvr)
            pools.append(state.pool_id)
        if not ids:
            return
        await self.conn.execute(
            "UPDATE applications AS a SET state = u.state::jsonb, applicant_cvr = u.cvr,"
            " pool_id = u.pool, updated_at = now()"
            " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS u(id, state, cvr, pool)"
            " WHERE a.application_id = u.id",
            ids, docs, cvrs, pools)

    # -- all of a batch at once ------------------------------------------------------------------
    async def load(
        self, claims: Sequence[tuple[UUID, UUID, str | None]], application_ids: Iterable[UUID],
        pool_versions: Mapping[str, int | None],
    ) -> Loaded:
        """Claim ``claims`` (submission id, application id, submitter cvr; the first of a
        repeated submission id counts), lock ``application_ids`` (created fresh if unknown), and
        read the versions of the pools ``pool_versions`` names (with the caller's version, whose
        JSON is then not sent again) — as :meth:`claim_submission`, :meth:`lock_application` and
        :meth:`pool` would one by one, in that lock order, in one round trip when nothing raced.
        """
        first: dict[UUID, tuple[UUID, str | None]] = {}
        for submission_id, application_id, cvr in claims:
            first.setdefault(submission_id, (application_id, cvr))
        apps = sorted(set(application_ids))
        loaded = Loaded()
        if not first and not apps and not pool_versions:
            return loaded
        rows = await self.conn.fetch(
            _LOAD, list(first), [a for a, _ in first.values()], [c for _, c in first.values()],
            apps, _FRESH_TEMPLATE, str(_ZERO), list(pool_versions), list(pool_versions.values()))
        for kind, id_, ref, name, body, version in rows:
            if kind == _NEW:
                loaded.claims[id_] = Claim(first[id_][0], new=True)
            elif kind == _BOUND:
                loaded.claims[id_] = Claim(ref, new=False)
            elif kind == _CREATED:
                loaded.states[id_] = ApplicationState(application_id=id_)
            elif kind == _LOCKED:
                loaded.states[id_] = ApplicationState.model_validate_json(body)
            else:
                loaded.pool_versions[name] = version
                if body is not None:
                    loaded.pool_rows[name] = body
        # Bound or created by a transaction that committed while this statement waited for it.
        raced = [s for s in first if s not in loaded.claims]
        if raced:
            for row in await self.conn.fetch(
                    "SELECT submission_id, application_id FROM submission_index"
                    " WHERE submission_id = ANY($1::uuid[])", raced):
                loaded.claims[row[0]] = Claim(row[1], new=False)
            for s in raced:  # as claim_submission: no row (cannot happen), no application
                loaded.claims.setdefault(s, Claim(None, new=False))  # type: ignore[arg-type]  # a raced claim with no application
        unseen = [a for a in apps if a not in loaded.states]
        if unseen:
            for row in await self.conn.fetch(
                    "SELECT application_id, state FROM applications"
                    " WHERE application_id = ANY($1::uuid[]) ORDER BY application_id FOR UPDATE",
                    unseen):
                loaded.states[row[0]] = ApplicationState.model_validate_json(row[1])
        return loaded

    async def settle_claims(self, released: Sequence[UUID],
                            rebound: Sequence[tuple[UUID, UUID, str | None]]) -> None:
        """After a batch: drop the claims a refused token made (``release_submission``), and
        bind again the ids a later submission of the same batch then claimed."""
        if released:
            await self.conn.execute(
                "DELETE FROM submission_index WHERE submission_id = ANY($1::uuid[])", released)
        if rebound:
            await self.conn.executemany(
                "UPDATE submission_index SET application_id = $2, submitter_cvr = $3"
                " WHERE submission_id = $1", rebound)

    # -- the submission index ----------------------------------------------------------------------
    async def claim_submission(
        self, submission_id: UUID, application_id: UUID, submitter_cvr: str | None
    ) -> Claim:
        """Bind ``submission_id`` to ``application_id`` unless it is bound already.

        A concurrent claim of the same id waits here until the first claimant's transaction ends.
        """
        inserted = await self.conn.fetchval(
            "INSERT INTO submission_index (submission_id, application_id, submitter_cvr)"
            " VALUES ($1, $2, $3) ON CONFLICT (submission_id) DO NOTHING RETURNING application_id",
            submission_id, application_id, submitter_cvr)
        if inserted is not None:
            return Claim(inserted, new=True)
        bound = await self.conn.fetchval(
            "SELECT application_id FROM submission_index WHERE submission_id = $1", submission_id)
        return Claim(bound, new=False)

    async def release_submission(self, submission_id: UUID) -> None:
        """Undo this transaction's claim (a refused token must not bind an id)."""
        await self.conn.execute("DELETE FROM submission_index WHERE submission_id = $1",
                                submission_id)

    async def submission(self, submission_id: UUID) -> IndexedSubmission | None:
        row = await self.conn.fetchrow(
            "SELECT application_id, submitter_cvr FROM submission_index WHERE submission_id = $1",
            submission_id)
        return None if row is None else IndexedSubmission(row["application_id"],
                                                          row["submitter_cvr"])

    # -- the organisation register (a projection of assessment's) ----------------------------------
    async def organisations(self, cvrs: Iterable[str]) -> dict[str, RegisterEntry]:
        """The register's entries for ``cvrs`` (those it has)."""
        wanted = sorted(set(cvrs))
        if not wanted:
            return {}
        rows = await self.conn.fetch(
            "SELECT cvr, revision, organisation FROM organisations WHERE cvr = ANY($1::text[])",
            wanted)
        return {r["cvr"]: RegisterEntry(Organisation.model_validate_json(r["organisation"]),
                                        r["revision"]) for r in rows}

    async def save_organisation(self, event: OrganisationRecorded) -> None:
        """Keep the latest entry per CVR: an older or repeated change changes nothing."""
        await self.conn.execute(
            "INSERT INTO organisations (cvr, revision, organisation) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (cvr) DO UPDATE SET revision = EXCLUDED.revision,"
            " organisation = EXCLUDED.organisation, updated_at = now()"
            " WHERE organisations.revision < EXCLUDED.revision",
            event.organisation.cvr, event.revision, event.organisation.model_dump_json())

    # -- pools ---------------------------------------------------------------------------------------
    async def pool(self, pool_id: str) -> PoolPublished | None:
        published = await self.conn.fetchval(
            "SELECT published FROM pools WHERE pool_id = $1", pool_id)
        return None if published is None else PoolPublished.model_validate_json(published)

    async def pools_for(self, pool_id: str | None) -> dict[str, PoolPublished]:
        """The mapping the domain takes: the one pool a command names, if it is published."""
        pool = await self.pool(pool_id) if pool_id is not None else None
        return {} if pool is None else {pool.pool_id: pool}

    async def pools(self) -> list[PoolPublished]:
        """Every stored pool (the cache's start)."""
        return [PoolPublished.model_validate_json(r[0])
                for r in await self.conn.fetch("SELECT published FROM pools")]

    async def save_pool(self, pool: PoolPublished) -> None:
        """Keep the latest version: an older or repeated ``PoolPublished`` changes nothing."""
        await self.conn.execute(
            "INSERT INTO pools (pool_id, version, published) VALUES ($1, $2, $3::jsonb)"
            " ON CONFLICT (pool_id) DO UPDATE SET version = EXCLUDED.version,"
            " published = EXCLUDED.published, updated_at = now()"
            " WHERE pools.version < EXCLUDED.version",
            pool.pool_id, pool.version, pool.model_dump_json())


class PoolCache:
    """The published pools in memory, so a submission does not read and parse its pool.

    Pools change only through ``PoolPublished`` events, which the pools consumer
    (:func:`services.intake.service.record_pool_events`) stores and puts here once its transaction
    has committed; the cache starts from the table (:meth:`load`). Every use still checks the stored version, in the statement
    that claims and locks (:meth:`IntakeStore.load`), and reads the pool's JSON only when this
    copy is not that version: another instance of the service may have stored a newer one, or
    the commit may just have happened. A submission therefore decides with exactly the pool row
    it would have read itself.
    """

    def __init__(self) -> None:
        self._pools: dict[str, PoolPublished] = {}

    def put(self, pool: PoolPublished) -> None:
        """Keep the latest version, as :meth:`IntakeStore.save_pool` does."""
        held = self._pools.get(pool.pool_id)
        if held is None or held.version < pool.version:
            self._pools[pool.pool_id] = pool

    async def load(self, conn: asyncpg.Connection) -> None:
        for pool in await IntakeStore(conn).pools():
            self.put(pool)

    def versions(self, pool_ids: Iterable[str]) -> dict[str, int | None]:
        """What to send to :meth:`IntakeStore.load`: the version held of each pool, if any."""
        held = self._pools
        return {p: (held[p].version if p in held else None) for p in pool_ids}

    async def resolve(self, store: IntakeStore, loaded: Loaded,
                      pool_ids: Iterable[str]) -> dict[str, PoolPublished]:
        """The stored pools among ``pool_ids``, as ``loaded`` found them."""
        found: dict[str, PoolPublished] = {}
        for pool_id in pool_ids:
            version = loaded.pool_versions.get(pool_id)
            if version is None:
                continue  # not published
            row = loaded.pool_rows.get(pool_id)
            if row is not None:
                pool = PoolPublished.model_validate_json(row)
                self.put(pool)
                found[pool_id] = pool
                continue
            held = self._pools.get(pool_id)
            if held is not None and held.version == version:
                found[pool_id] = held
                continue
            # This copy changed after the statement was sent: read the row (rare).
            pool = await store.pool(pool_id)
            if pool is not None:
                self.put(pool)
                found[pool_id] = pool
        return found
