-- The commit-time chaining of 004 reads only the committing transaction's pending entries, by
-- range: the first firing is the transaction's first pending row (deferred trigger events fire in
-- insertion order), and every row of the transaction comes after it. 004 read the whole table
-- (`SELECT ... FROM audit_pending ORDER BY pos`, `DELETE FROM audit_pending`): every committed
-- transaction leaves its deleted rows behind until VACUUM, and each commit scanned all of them —
-- an HTTP burst at intake (30,000 submissions) doubled its receipts' latency (bench figure 2:
-- p50 39 -> 65 ms, p99 215 -> 654 ms). Rows of other, uncommitted transactions in the range are
-- invisible here, as before.
CREATE OR REPLACE FUNCTION servicekit_chain_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_seq  bigint;
    v_prev text;
    r      record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_pending WHERE pos = NEW.pos) THEN
        RETURN NULL;  -- chained with the transaction's first pending row
    END IF;
    PERFORM pg_advisory_xact_lock(1635083369);
    SELECT seq, entry_hash INTO v_seq, v_prev FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 0;
        v_prev := repeat('0', 64);
    END IF;
    FOR r IN SELECT event_id, entry FROM audit_pending WHERE pos >= NEW.pos ORDER BY pos LOOP
        v_seq := v_seq + 1;
        INSERT INTO audit_log (seq, event_id, entry, prev_hash, entry_hash)
            VALUES (v_seq, r.event_id, r.entry, v_prev,
                    encode(sha256(convert_to(v_prev || r.entry, 'UTF8')), 'hex'))
            RETURNING entry_hash INTO v_prev;
    END LOOP;
    DELETE FROM audit_pending WHERE pos >= NEW.pos;
    RETURN NULL;
END
$$;
