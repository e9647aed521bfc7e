-- Held rows (servicekit.relay): a row the broker refuses for good (a non-retriable produce error,
-- e.g. MessageSizeTooLargeError) is marked held instead of stalling the relay. It holds back only
-- the later rows of its own topic and key (order per key is kept); every other key keeps flowing.
-- An operator clears held_at to have the relay try it again.
ALTER TABLE outbox ADD COLUMN held_at timestamptz;
ALTER TABLE outbox ADD COLUMN held_error text;      -- the error's class name, never the payload
-- The relay's anti-join ("no held row of my key before me") reads this; empty in the happy path.
CREATE INDEX outbox_held ON outbox (topic, key, id) WHERE held_at IS NOT NULL AND sent_at IS NULL;
