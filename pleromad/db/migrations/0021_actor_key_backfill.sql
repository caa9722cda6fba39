-- Accounts made before federation have no key pair: one job
-- (pleromad.domain.actor_keys.BACKFILL_KEYS_JOB) gives each of them one, in
-- threads, after the daemon starts.  A database without such accounts gets no job.
INSERT INTO jobs (kind)
SELECT 'federation.backfill_keys'
WHERE EXISTS (
    SELECT 1 FROM users u
    WHERE local AND NOT EXISTS (SELECT 1 FROM actor_keys k WHERE k.user_id = u.id)
);
