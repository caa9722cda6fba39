-- ActivityPub: what federation needs beside the accounts and statuses.
--
-- Remote accounts are rows of `users` with local = false, nickname
-- 'nick@host' and ap_id their actor id, so that follows, statuses and
-- notifications reference them like local ones.

-- Local accounts' RSA key pairs (PEM), made in a thread when an account is
-- created; the instance actor's lives in `settings`.
CREATE TABLE actor_keys (
    user_id         bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    public_key_pem  text NOT NULL,
    private_key_pem text NOT NULL
);

-- What a remote account's actor document told us, refreshed when stale.
CREATE TABLE remote_actors (
    user_id        bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    host           text NOT NULL,
    inbox          text NOT NULL,
    shared_inbox   text,
    outbox         text,
    followers_url  text,
    following_url  text,
    key_id         text NOT NULL,
    public_key_pem text NOT NULL,
    -- The actor document as fetched (its counts, fields, emoji, images...).
    document       jsonb NOT NULL,
    fetched_at     timestamptz NOT NULL
);
CREATE INDEX remote_actors_host_idx ON remote_actors (host);
CREATE UNIQUE INDEX remote_actors_key_idx ON remote_actors (key_id);

-- Object and activity ids.  A local status's Note is <base_url>/objects/<object_uuid>
-- and its Create <base_url>/activities/<activity_uuid>; a remote status
-- keeps the ids its server gave it in ap_id / activity_ap_id, and its HTML page in url.
ALTER TABLE statuses
    ADD COLUMN object_uuid     uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN activity_uuid   uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN ap_id           text,
    ADD COLUMN activity_ap_id  text,
    ADD COLUMN url             text;
CREATE UNIQUE INDEX statuses_object_uuid_idx ON statuses (object_uuid);
CREATE UNIQUE INDEX statuses_activity_uuid_idx ON statuses (activity_uuid);
CREATE UNIQUE INDEX statuses_ap_id_idx ON statuses (ap_id) WHERE ap_id IS NOT NULL;

-- Activity ids already applied from inboxes: a replay does nothing.
CREATE TABLE seen_activities (
    ap_id       text PRIMARY KEY,
    received_at timestamptz NOT NULL
);
CREATE INDEX seen_activities_received_idx ON seen_activities (received_at);

-- Other servers as delivery sees them: a host failing for days is skipped
-- until it is heard from again.
CREATE TABLE instances (
    host              text PRIMARY KEY,
    failing_since     timestamptz,
    unreachable_since timestamptz,
    last_error        text
);
