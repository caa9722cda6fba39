-- Idempotency-Key on every POST, PUT and PATCH of a user (DECISIONS 26).
-- A key is claimed, in a transaction of its own, before its request runs:
-- a row without an answer (status and body NULL) is a request in progress.
-- ``claim`` tells one claim from a later takeover of the same key (a claim
-- whose request died unanswered is taken over once its lease is over), so
-- only the claim's owner can record the answer.  created_at is when the
-- key was claimed, then when its answer was recorded.
-- A key names one request of a user: ``request`` is its method and path,
-- so that a key sent to another route never answers that route's answer.
-- The rows so far were all posted statuses.
ALTER TABLE idempotency_keys
    ALTER COLUMN status DROP NOT NULL,
    ALTER COLUMN body DROP NOT NULL,
    ADD COLUMN claim bigint NOT NULL DEFAULT next_id(),
    ADD COLUMN request text NOT NULL DEFAULT 'POST /api/v1/statuses',
    ADD CONSTRAINT idempotency_keys_answer_check CHECK ((status IS NULL) = (body IS NULL));
ALTER TABLE idempotency_keys
    ALTER COLUMN request DROP DEFAULT,
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD PRIMARY KEY (user_id, key, request);

-- Housekeeping deletes expired keys without reading the whole table.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
