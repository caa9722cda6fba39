-- What incoming posts, boosts and favourites need beside 0020.

-- Attachments of remote posts are referenced, never downloaded: a media row
-- of the remote author with no stored file (path and size NULL) whose url
-- is the remote URL, with what the Note said of it.
ALTER TABLE media
    ALTER COLUMN path DROP NOT NULL,
    ALTER COLUMN size DROP NOT NULL,
    ADD COLUMN blurhash text,
    ADD COLUMN width    integer,
    ADD COLUMN height   integer,
    ADD CONSTRAINT media_file_or_reference CHECK ((path IS NULL) = (size IS NULL));

-- A remote status's ActivityStreams `context` (Mastodon: `conversation`):
-- a reply whose parent we do not have joins the conversation of a status
-- that shares it.
ALTER TABLE statuses ADD COLUMN context text;
CREATE INDEX statuses_context_idx ON statuses (context) WHERE context IS NOT NULL;

-- A remote favourite's Like id, so that an Undo naming only that id finds it.
ALTER TABLE favourites ADD COLUMN ap_id text;
CREATE UNIQUE INDEX favourites_ap_id_idx ON favourites (ap_id) WHERE ap_id IS NOT NULL;
