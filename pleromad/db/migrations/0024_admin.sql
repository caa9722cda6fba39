-- What the Admin API keeps: forced password resets, reports and the
-- moderation log.

-- An admin may require an account to reset its password before it logs in
-- again; a completed reset clears the flag.
ALTER TABLE users ADD COLUMN password_reset_pending boolean NOT NULL DEFAULT false;

-- A report of an account (and some of its statuses) to the moderators.
-- actor_id is the reporter (a local account, or a remote one whose server
-- sent a Flag); ap_id is the Flag's id when it came from elsewhere.
CREATE TABLE reports (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    account_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    comment     text NOT NULL DEFAULT '',
    category    text NOT NULL DEFAULT 'other',
    rule_ids    text[] NOT NULL DEFAULT '{}',
    forwarded   boolean NOT NULL DEFAULT false,
    state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'closed')),
    ap_id       text UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_state_idx ON reports (state, id DESC);
CREATE INDEX reports_account_idx ON reports (account_id);
CREATE INDEX reports_actor_idx ON reports (actor_id);

-- Each reported status as moderators saw it when it was reported: no
-- foreign key to statuses, so that the author deleting it keeps it here.
CREATE TABLE report_statuses (
    report_id  bigint NOT NULL REFERENCES reports ON DELETE CASCADE,
    status_id  bigint NOT NULL,
    position   integer NOT NULL,
    snapshot   jsonb NOT NULL,
    PRIMARY KEY (report_id, status_id)
);

CREATE TABLE report_notes (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    report_id   bigint NOT NULL REFERENCES reports ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    content     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_notes_report_idx ON report_notes (report_id, id);

-- Moderators and admins hear of every new report.
ALTER TABLE notifications
    DROP CONSTRAINT notifications_type_check,
    ADD CONSTRAINT notifications_type_check
        CHECK (type IN ('mention', 'reblog', 'favourite', 'follow', 'pleroma:report')),
    ADD COLUMN report_id bigint REFERENCES reports ON DELETE CASCADE;

-- Every admin action: who (actor_id, kept in data too, so that the entry
-- outlives the account), what (data.action), whom (data.subject), and the
-- sentence shown for it.
CREATE TABLE moderation_log (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    actor_id    bigint,
    data        jsonb NOT NULL,
    message     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_log_created_idx ON moderation_log (created_at DESC, id DESC);
CREATE INDEX moderation_log_actor_idx ON moderation_log (actor_id, id DESC);
