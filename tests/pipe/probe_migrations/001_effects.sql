CREATE TABLE effects (
    id             bigserial PRIMARY KEY,
    event_id       uuid NOT NULL,          -- deliberately not unique: the inbox must dedup
    correlation_id text NOT NULL,
    municipality_code text NOT NULL
);
