-- Signed checkpoints (servicekit.checkpoints): the relay appends every event it publishes to the
-- service's Merkle tree and writes a signed checkpoint of the tree into the outbox.
-- outbox.audit_leaf: for an event row, its leaf index in the tree (given before the first
-- publish, so a re-publish after a crash carries the same index); for a checkpoint row, the
-- tree size it covers (it is published only after the events below that size were acknowledged).
ALTER TABLE outbox ADD COLUMN audit_leaf bigint;

-- The tree's right edge after the last checkpoint (one row): what the next checkpoint extends.
CREATE TABLE audit_tree (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    tree_size       bigint NOT NULL,
    frontier        bytea[] NOT NULL,
    sequence        bigint NOT NULL,        -- checkpoints issued so far
    key_id          text,                   -- the key that signed the last one
    checkpointed_at timestamptz
);
INSERT INTO audit_tree (tree_size, frontier, sequence) VALUES (0, '{}', 0);

-- One statement per checkpoint: the leaves given to this batch's rows, the tree's new edge and
-- the checkpoint row, atomically. The WHERE on the old size and sequence refuses a second relay
-- that still believed in an older tree.
CREATE FUNCTION servicekit_audit_checkpoint(
    p_row_ids bigint[], p_leaves bigint[], p_old_size bigint, p_new_size bigint,
    p_frontier bytea[], p_sequence bigint, p_key_id text,
    p_event_id uuid, p_topic text, p_key text, p_value bytea
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    UPDATE audit_tree SET tree_size = p_new_size, frontier = p_frontier, sequence = p_sequence,
                          key_id = p_key_id, checkpointed_at = now()
        WHERE tree_size = p_old_size AND sequence = p_sequence - 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit tree is not at size % / checkpoint %', p_old_size, p_sequence - 1;
    END IF;
    UPDATE outbox o SET audit_leaf = u.leaf
        FROM unnest(p_row_ids, p_leaves) AS u(id, leaf)
        WHERE o.id = u.id AND o.audit_leaf IS NULL;
    INSERT INTO outbox (event_id, topic, key, value, headers, audit_leaf)
        VALUES (p_event_id, p_topic, p_key, p_value, '{}'::jsonb, p_new_size)
        RETURNING id INTO v_id;
    RETURN v_id;
END
$$;
