-- The durable job queue (pleromad/jobs.py).  A row is 'pending' until a
-- worker claims it, 'running' while the claiming node holds the session
-- advisory lock keyed by its id, deleted on success, 'failed' when it has
-- used up its attempts.
--
-- run_at is when a pending job is due: NULL means at once.  New and rescued
-- jobs are due at once whatever a worker's clock says, so a node whose clock
-- is a little behind the database's does not leave them for its next poll;
-- retry times come from the clock of the node that recorded the failure.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    run_at       timestamptz,
    claimed_by   text,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Workers take the oldest due job first, so a job backing off is not starved
-- by a stream of new ones.
CREATE INDEX jobs_pending_idx ON jobs (id) WHERE state = 'pending';
CREATE INDEX jobs_running_idx ON jobs (id) WHERE state = 'running';
