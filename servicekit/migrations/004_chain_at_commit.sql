-- The audit chain is extended at COMMIT, not when the events are appended (issue 22, figure 3).
-- servicekit_append_events used to take the chain's lock (one writer at a time) at once and held
-- it to the end of the transaction: across the client's round trip from the append to its COMMIT,
-- which on a busy service is milliseconds, so every emitting transaction queued behind the one
-- before (sampled while assessors scored: ~1.5 backends waiting on the lock, the holder idle in
-- transaction). Now the append parks each entry in audit_pending; a deferred constraint trigger
-- chains them when the transaction commits, still inside it (a chain that cannot be written fails
-- the COMMIT and nothing is kept), holding the lock only while the COMMIT runs. The chain's order
-- is the order transactions commit in, and within one transaction the order of its appends.
CREATE TABLE audit_pending (
    pos      bigserial PRIMARY KEY,     -- append order within the transaction
    event_id uuid NOT NULL,
    entry    text NOT NULL
);

-- Fires once per pending row at COMMIT; the first firing chains every pending row of the
-- transaction (a transaction sees only its own: nothing pending is ever committed), the others
-- find their row gone. Same link and hash as before: entry_hash = sha256(prev_hash || entry).
CREATE FUNCTION servicekit_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_seq  bigint;
    v_prev text;
    r      record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_pending WHERE pos = NEW.pos) THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock(1635083369);
    SELECT seq, entry_hash INTO v_seq, v_prev FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 0;
        v_prev := repeat('0', 64);
    END IF;
    FOR r IN SELECT event_id, entry FROM audit_pending ORDER BY pos LOOP
        v_seq := v_seq + 1;
        INSERT INTO audit_log (seq, event_id, entry, prev_hash, entry_hash)
            VALUES (v_seq, r.event_id, r.entry, v_prev,
                    encode(sha256(convert_to(v_prev || r.entry, 'UTF8')), 'hex'))
            RETURNING entry_hash INTO v_prev;
    END LOOP;
    DELETE FROM audit_pending;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER audit_pending_chain AFTER INSERT ON audit_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION servicekit_chain_pending();

-- One round trip for everything an emitting transaction writes besides its state: the outbox
-- rows, the pending audit entries (canonical JSON text, as the Python verifier hashes it) and the
-- relay's wake-up.
CREATE OR REPLACE FUNCTION servicekit_append_events(
    p_event_ids uuid[], p_topics text[], p_keys text[], p_values bytea[], p_headers jsonb[],
    p_entries text[], p_channel text
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (event_id, topic, key, value, headers)
        SELECT * FROM unnest(p_event_ids, p_topics, p_keys, p_values, p_headers);
    INSERT INTO audit_pending (event_id, entry)
        SELECT u.event_id, u.entry
        FROM unnest(p_event_ids, p_entries) WITH ORDINALITY AS u(event_id, entry, n)
        ORDER BY u.n;
    PERFORM pg_notify(p_channel, '');
END
$$;
