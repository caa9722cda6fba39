-- Uploaded files: attachments (POST /api/v1/media), the pictures of profiles
-- and the mascot an account chose (PUT /api/v1/pleroma/mascot: its one row
-- with purpose 'mascot').  A row names the file the uploader stores under
-- `path`, and is written only once that file is stored.
CREATE TABLE media (
    id          bigint PRIMARY KEY DEFAULT next_id(),
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    -- attachment, avatar, banner, background or mascot.
    purpose     text NOT NULL,
    path        text NOT NULL UNIQUE,
    url         text NOT NULL,
    -- Decided from the bytes, never taken from the client.
    mime_type   text NOT NULL,
    size        bigint NOT NULL,
    description text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_user_idx ON media (user_id, purpose);

