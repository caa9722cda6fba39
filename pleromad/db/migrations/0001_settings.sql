-- Instance-wide values every node must agree on (the cookie signing key, ...),
-- created on first start so several daemons need no shared configuration.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
