-- Follows as ActivityPub sees them: every follow is the object of a Follow
-- activity, which Accept, Reject and Undo name by its id.
--
-- A local account's follow has the stable id <base_url>/activities/<activity_uuid>
-- (made with the row, so that a Follow sent again has the same id); a remote
-- account's follow keeps the id its server gave the Follow in ap_id.
ALTER TABLE follows
    ADD COLUMN activity_uuid uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN ap_id         text;
CREATE UNIQUE INDEX follows_activity_uuid_idx ON follows (activity_uuid);
CREATE UNIQUE INDEX follows_ap_id_idx ON follows (ap_id) WHERE ap_id IS NOT NULL;
