-- Tables every service database has: outbox, inbox, per-aggregate sequences, audit chain.

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,          -- publish order
    event_id    uuid NOT NULL UNIQUE,
    topic       text NOT NULL,
    key         text NOT NULL,                  -- aggregate id: per-aggregate order on Kafka
    value       bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE aggregate_sequence (
    aggregate_id  text PRIMARY KEY,
    last_sequence integer NOT NULL
);

CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    topic        text,
    "partition"  integer,
    "offset"     bigint,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- entry is the canonical JSON text that was hashed (text, not jsonb, so it is kept byte-exact).
CREATE TABLE audit_log (
    seq         bigint PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    entry       text NOT NULL,
    prev_hash   text NOT NULL,
    entry_hash  text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
