-- One round trip for everything an emitting transaction writes besides its state: the outbox
-- rows, the audit-chain entries (lock, link, hash) and the relay's wake-up. The entries arrive as
-- the canonical JSON text the Python verifier hashes; sha256 here is over the same UTF-8 bytes:
-- entry_hash = sha256(prev_hash || entry).
CREATE FUNCTION servicekit_append_events(
    p_event_ids uuid[], p_topics text[], p_keys text[], p_values bytea[], p_headers jsonb[],
    p_entries text[], p_channel text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_seq  bigint;
    v_prev text;
BEGIN
    INSERT INTO outbox (event_id, topic, key, value, headers)
        SELECT * FROM unnest(p_event_ids, p_topics, p_keys, p_values, p_headers);
    -- One writer at a time extends the chain (held to COMMIT, which follows at once).
    PERFORM pg_advisory_xact_lock(1635083369);
    SELECT seq, entry_hash INTO v_seq, v_prev FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        v_seq := 0;
        v_prev := repeat('0', 64);
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_event_ids, 1), 0) LOOP
        v_seq := v_seq + 1;
        INSERT INTO audit_log (seq, event_id, entry, prev_hash, entry_hash)
            VALUES (v_seq, p_event_ids[i], p_entries[i], v_prev,
                    encode(sha256(convert_to(v_prev || p_entries[i], 'UTF8')), 'hex'))
            RETURNING entry_hash INTO v_prev;
    END LOOP;
    PERFORM pg_notify(p_channel, '');
END
$$;
