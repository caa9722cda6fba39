-- What a remote actor's server publishes of its counts: the totalItems of
-- its followers, following and outbox collections, read when the actor is
-- fetched (0 when a collection is missing, hidden or fails).
ALTER TABLE remote_actors
    ADD COLUMN followers_count integer NOT NULL DEFAULT 0,
    ADD COLUMN following_count integer NOT NULL DEFAULT 0,
    ADD COLUMN statuses_count  integer NOT NULL DEFAULT 0;

-- A job queued "once" (store.jobs.enqueue_once_txn): none is queued while
-- one of its kind and key is pending or running.  The unique index settles
-- a race between two queuers; it leaves out retried and rescued jobs
-- (attempts > 0), which go back to pending without asking.
ALTER TABLE jobs ADD COLUMN dedup_key text;
CREATE INDEX jobs_dedup_key_idx ON jobs (kind, dedup_key) WHERE dedup_key IS NOT NULL;
CREATE UNIQUE INDEX jobs_dedup_idx ON jobs (kind, dedup_key)
    WHERE dedup_key IS NOT NULL AND state = 'pending' AND attempts = 0;
