-- Follows get a time-ordered id of their own, so that followers, following
-- and follow request lists are ordered newest first and paginated by it
-- (the Link headers carry these ids, as Mastodon's do).  An accepted
-- request gets a new id: it became a follow when it was authorized.
ALTER TABLE follows ADD COLUMN id bigint NOT NULL DEFAULT next_id();
CREATE UNIQUE INDEX follows_id_idx ON follows (id);

-- One page of a list costs the same however long the list is.
CREATE INDEX follows_followers_page_idx ON follows (followee_id, id DESC)
    WHERE state = 'accepted';
CREATE INDEX follows_following_page_idx ON follows (follower_id, id DESC)
    WHERE state = 'accepted';
CREATE INDEX follows_requests_page_idx ON follows (followee_id, id DESC)
    WHERE state = 'pending';

-- Who muted or subscribed to an account, for removing a deleted account's
-- relationships (blocks and subscriptions have theirs already).
CREATE INDEX mutes_muted_idx ON mutes (muted_id);
