-- Removing a deleted account's notifications finds those it caused by actor.
CREATE INDEX notifications_actor_idx ON notifications (actor_id);
