-- Notifications of mentions, reblogs, favourites and follows.
CREATE TABLE notifications (
    id         bigint PRIMARY KEY DEFAULT next_id(),
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    type       text NOT NULL CHECK (type IN ('mention', 'reblog', 'favourite', 'follow')),
    actor_id   bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    -- The status concerned: the mentioning status, or the one favourited or reblogged.
    status_id  bigint REFERENCES statuses ON DELETE CASCADE,
    seen       boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_status_idx ON notifications (status_id) WHERE status_id IS NOT NULL;
