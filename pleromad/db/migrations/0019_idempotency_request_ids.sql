-- The X-Request-Id of the request that claimed a key: a replay names it in
-- X-Original-Request-Id, as the reference does.  Keys claimed before this
-- have none ('').
ALTER TABLE idempotency_keys ADD COLUMN request_id text NOT NULL DEFAULT '';
