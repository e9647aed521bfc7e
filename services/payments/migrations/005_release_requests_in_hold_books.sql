-- The first person's request to release a hold (R19) is an event now (HoldReleaseRequested),
-- folded into the hold in its grantee's book (services.payments.domain.holds.Hold
-- .release_request) instead of a row of its own. Requests still waiting move onto their hold,
-- then the table goes. A replica of the older version fails on the release routes (and on a book
-- with a request in it) until it is replaced: refused, never a release by one person. A request
-- left behind on a hold a late report released by itself is moot and dropped.
UPDATE hold_books b
SET state = jsonb_set(b.state, '{holds}', (
        SELECT coalesce(jsonb_agg(
                   CASE WHEN r.hold_id IS NOT NULL AND h->>'released_at' IS NULL
                        THEN h || jsonb_build_object('release_request', jsonb_build_object(
                                 'requested_by', r.requested_by,
                                 'requested_at', to_char(r.requested_at AT TIME ZONE 'UTC',
                                                         'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
                        ELSE h END
                   ORDER BY e.ord), '[]'::jsonb)
        FROM jsonb_array_elements(b.state->'holds') WITH ORDINALITY AS e(h, ord)
        LEFT JOIN release_requests r ON r.hold_id = (e.h->>'hold_id')::uuid)),
    updated_at = now()
WHERE b.cvr IN (SELECT cvr FROM release_requests);

DROP TABLE release_requests;
