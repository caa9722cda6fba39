-- The earlier versions of edited statuses (PUT /api/v1/statuses/:id, an
-- incoming Update of a Note): each row is a version as it was until the
-- edit made at the next row's (or the status's) time.  The current version
-- is the statuses row itself.
CREATE TABLE status_edits (
    id           bigserial PRIMARY KEY,
    status_id    bigint NOT NULL REFERENCES statuses ON DELETE CASCADE,
    content      text NOT NULL,
    spoiler_text text NOT NULL,
    sensitive    boolean NOT NULL,
    -- The attachments of that version, as Attachment entities' values
    -- (a media row may be gone or changed since).
    media        jsonb NOT NULL DEFAULT '[]',
    emojis       jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL
);
CREATE INDEX status_edits_status_idx ON status_edits (status_id, id);

-- When the current version was written: NULL until the first edit.
ALTER TABLE statuses ADD COLUMN edited_at timestamptz;
