-- Blocks and mutes get a time-ordered id of their own, as follows did
-- (0014): the caller's blocks and mutes lists are ordered newest first and
-- paginated by it, the Link headers carrying these ids as Mastodon's do.
-- Rows made before this migration get ids of its time, in no set order.
ALTER TABLE blocks ADD COLUMN id bigint NOT NULL DEFAULT next_id();
CREATE UNIQUE INDEX blocks_id_idx ON blocks (id);
ALTER TABLE mutes ADD COLUMN id bigint NOT NULL DEFAULT next_id();
CREATE UNIQUE INDEX mutes_id_idx ON mutes (id);

-- One page of a list costs the same however long the list is.
CREATE INDEX blocks_page_idx ON blocks (blocker_id, id DESC);
CREATE INDEX mutes_page_idx ON mutes (muter_id, id DESC);
