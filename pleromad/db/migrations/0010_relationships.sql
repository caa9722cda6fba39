-- Who follows, blocks, mutes and subscribes to whom.

-- A follow of a locked account is 'pending' until authorized; only
-- 'accepted' rows make someone a follower (timelines, private statuses).
CREATE TABLE follows (
    follower_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    followee_id  bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    state        text NOT NULL DEFAULT 'accepted' CHECK (state IN ('accepted', 'pending')),
    show_reblogs boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id, state);

CREATE TABLE blocks (
    blocker_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    blocked_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id);

CREATE TABLE mutes (
    muter_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    muted_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    notifications boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (muter_id, muted_id),
    CHECK (muter_id <> muted_id)
);

-- Pleroma's "notify me of every post": subscriber gets a notification for
-- each new top-level status of target it may see.
CREATE TABLE subscriptions (
    subscriber_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    target_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscriber_id, target_id),
    CHECK (subscriber_id <> target_id)
);
CREATE INDEX subscriptions_target_idx ON subscriptions (target_id);
