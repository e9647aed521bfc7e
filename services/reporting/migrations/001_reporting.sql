-- Reporting state: one JSONB grant file per application (services.reporting.domain.GrantFile),
-- rebuilt by the domain's evolve; writers lock the row (SELECT … FOR UPDATE). When one
-- transaction locks several files it locks them in application_id order.

CREATE TABLE grant_files (
    application_id  uuid PRIMARY KEY,
    state           jsonb NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Routes finance results (which name only the instruction) to their grant.
CREATE TABLE instruction_index (
    instruction_id  uuid PRIMARY KEY,
    application_id  uuid NOT NULL
);

-- The events the overview, the timelines and the exports are built from: every consumed event
-- and every event this service emitted, as published (the envelope's JSON), keyed for lookup.
-- application_id is NULL for pool events, and for a finance result whose instruction is not
-- known yet (filled in when its PaymentInstructed arrives).
CREATE TABLE events (
    event_id        uuid PRIMARY KEY,
    event_type      text NOT NULL,
    topic           text NOT NULL,
    origin          text NOT NULL CHECK (origin IN ('consumed', 'emitted')),
    application_id  uuid,
    pool_id         text,
    instruction_id  uuid,
    occurred_at     timestamptz NOT NULL,
    envelope        jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_application ON events (application_id);
CREATE INDEX events_pool ON events (pool_id) WHERE pool_id IS NOT NULL;
CREATE INDEX events_unrouted ON events (instruction_id) WHERE application_id IS NULL;
CREATE INDEX events_type ON events (event_type);
