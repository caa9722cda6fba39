-- The durable job queue (pleromad/jobs.py).  A row is 'pending' until a
-- worker claims it, 'running' while the claiming node holds the session
-- advisory lock keyed by its id, deleted on success, 'failed' when it has
-- used up its attempts.
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL DEFAULT '{}',
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10 CHECK (max_attempts >= 1),
    run_at       timestamptz NOT NULL DEFAULT now(),
    claimed_by   text,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX jobs_pending_idx ON jobs (run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_running_idx ON jobs (id) WHERE state = 'running';
