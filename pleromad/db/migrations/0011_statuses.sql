-- Statuses and what hangs off them.  Ids are next_id() (time-ordered), so
-- keyset pagination by id is pagination by time.
CREATE TABLE statuses (
    id              bigint PRIMARY KEY DEFAULT next_id(),
    account_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    -- A reblog is a status row pointing at the original, with no text.
    reblog_of_id    bigint REFERENCES statuses ON DELETE CASCADE,
    in_reply_to_id  bigint REFERENCES statuses ON DELETE SET NULL,
    in_reply_to_account_id bigint REFERENCES users ON DELETE SET NULL,
    -- The thread: the id of the first status of the conversation.
    conversation_id bigint NOT NULL,
    visibility      text NOT NULL CHECK (visibility IN ('public', 'unlisted', 'private', 'direct')),
    content_type    text NOT NULL DEFAULT 'text/plain',
    source          text NOT NULL DEFAULT '',
    content         text NOT NULL DEFAULT '',
    spoiler_text    text NOT NULL DEFAULT '',
    sensitive       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX statuses_account_idx ON statuses (account_id, id DESC);
CREATE INDEX statuses_reply_idx ON statuses (in_reply_to_id) WHERE in_reply_to_id IS NOT NULL;
CREATE INDEX statuses_conversation_idx ON statuses (conversation_id, id);
CREATE INDEX statuses_public_idx ON statuses (id DESC)
    WHERE visibility = 'public' AND reblog_of_id IS NULL;
CREATE UNIQUE INDEX statuses_one_reblog_idx ON statuses (account_id, reblog_of_id)
    WHERE reblog_of_id IS NOT NULL;

-- Who is addressed: mentioned accounts (they may see private and direct
-- statuses that name them).
CREATE TABLE status_mentions (
    status_id  bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    account_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    PRIMARY KEY (status_id, account_id)
);
CREATE INDEX status_mentions_account_idx ON status_mentions (account_id, status_id);

CREATE TABLE status_tags (
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    tag       text NOT NULL,
    PRIMARY KEY (status_id, tag)
);
CREATE INDEX status_tags_tag_idx ON status_tags (tag, status_id DESC);

CREATE TABLE status_emojis (
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    shortcode text NOT NULL,
    url       text NOT NULL,
    PRIMARY KEY (status_id, shortcode)
);

-- Attachments: media rows (pleromad/store/media.py) attached in order.
CREATE TABLE status_media (
    status_id bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    media_id  bigint NOT NULL REFERENCES media ON DELETE CASCADE,
    position  integer NOT NULL,
    PRIMARY KEY (status_id, media_id)
);

-- Favourites have their own time-ordered id: the favourites timeline is
-- ordered and paginated by it (DECISIONS 17).
CREATE TABLE favourites (
    id         bigint PRIMARY KEY DEFAULT next_id(),
    account_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    status_id  bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, status_id)
);
CREATE INDEX favourites_account_idx ON favourites (account_id, id DESC);
CREATE INDEX favourites_status_idx ON favourites (status_id);

-- Idempotency-Key replays (DECISIONS 26): the first response, per user, 6 hours.
CREATE TABLE idempotency_keys (
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    key        text NOT NULL,
    status     integer NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
