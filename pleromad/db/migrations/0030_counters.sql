-- The counts an Account and a Status show, kept by the writes instead of
-- counted on every render.
--
-- Triggers keep them, so that every write path (the API, inbox jobs, admin
-- deletes, the cascades of a status' or an account's deletion, an operator's
-- SQL) is covered at once.  What counts is what the renderers counted before:
--   statuses   an account's posts (not reblogs) that are public or unlisted;
--   followers  accepted follows of the account by active accounts;
--   following  accepted follows by the account of active accounts;
--   replies    public and unlisted replies to the status by active accounts;
--   reblogs    reblogs of the status by active accounts;
--   favourites favourites of the status by active accounts;
-- where an active account is neither deactivated nor deleted.  Deactivating,
-- deleting or reactivating an account moves every count it takes part in.
--
-- The counters live in narrow tables of their own: an increment writes a
-- small row instead of a new version of a wide users or statuses row (the
-- users row is read by every authenticated request).  A popular status'
-- favourites counter is a hot row: each favourite updates it in place and
-- holds its lock only until the short transaction of that favourite
-- commits, as Mastodon's status_stats and Pleroma's like_count do; the
-- triggers are immediate (not deferred to commit) because a deferred one
-- would judge "active" by the state at commit, not at the write.  Lock
-- order, so that single actions never deadlock each other: an account's
-- counters before a status' counters, and the two accounts of a follow in
-- the order of their ids.

CREATE TABLE account_counts (
    user_id   bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    statuses  bigint NOT NULL DEFAULT 0,
    followers bigint NOT NULL DEFAULT 0,
    following bigint NOT NULL DEFAULT 0
);

CREATE TABLE status_counts (
    status_id  bigint PRIMARY KEY REFERENCES statuses ON DELETE CASCADE,
    replies    bigint NOT NULL DEFAULT 0,
    reblogs    bigint NOT NULL DEFAULT 0,
    favourites bigint NOT NULL DEFAULT 0
);

-- Whether an account's acts count; an account that is gone (a row deleted
-- outright) counts no more.
CREATE FUNCTION account_counts_in(account bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT NOT deactivated AND NOT deleted FROM users WHERE id = account), false)
$$;

-- Inserts and deletes are counted once per statement, from its transition
-- table: a statement touching many rows (an account's deletion and its
-- cascades, a remote account's Delete, bulk loads) moves each counter once
-- by the sum, where a row trigger would update one counter row once per row
-- and, inside one transaction, walk a longer chain of its own versions each
-- time (quadratic: 20,000 rows took seconds, 100,000 minutes).  Updates of
-- the counted columns are rare and counted per row.  TG_OP gives the sign;
-- the transition table is called "changed" for both.

-- What the statuses in "changed" add or take away.
CREATE FUNCTION statuses_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO status_counts (status_id) SELECT id FROM changed;
    END IF;
    UPDATE account_counts c SET statuses = c.statuses + sign * d.n
        FROM (SELECT account_id, count(*) AS n FROM changed
              WHERE reblog_of_id IS NULL AND visibility IN ('public', 'unlisted')
              GROUP BY account_id) d
        WHERE c.user_id = d.account_id;
    UPDATE status_counts c SET reblogs = c.reblogs + sign * d.n
        FROM (SELECT reblog_of_id AS id, count(*) AS n FROM changed
              WHERE reblog_of_id IS NOT NULL AND account_counts_in(account_id)
              GROUP BY reblog_of_id) d
        WHERE c.status_id = d.id;
    UPDATE status_counts c SET replies = c.replies + sign * d.n
        FROM (SELECT in_reply_to_id AS id, count(*) AS n FROM changed
              WHERE in_reply_to_id IS NOT NULL AND visibility IN ('public', 'unlisted')
                AND account_counts_in(account_id)
              GROUP BY in_reply_to_id) d
        WHERE c.status_id = d.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER statuses_counted AFTER INSERT ON statuses
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION statuses_counted();
CREATE TRIGGER statuses_uncounted AFTER DELETE ON statuses
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION statuses_counted();

-- What one statuses row adds (sign 1) or takes away (-1), for an update.
CREATE FUNCTION status_counts_move(s statuses, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF s.reblog_of_id IS NULL AND s.visibility IN ('public', 'unlisted') THEN
        UPDATE account_counts SET statuses = statuses + sign WHERE user_id = s.account_id;
    END IF;
    IF (s.reblog_of_id IS NOT NULL
        OR (s.in_reply_to_id IS NOT NULL AND s.visibility IN ('public', 'unlisted')))
       AND account_counts_in(s.account_id) THEN
        UPDATE status_counts SET
            reblogs = reblogs + CASE WHEN status_id = s.reblog_of_id THEN sign ELSE 0 END,
            replies = replies + CASE WHEN status_id = s.in_reply_to_id
                                      AND s.visibility IN ('public', 'unlisted')
                                     THEN sign ELSE 0 END
        WHERE status_id IN (s.reblog_of_id, s.in_reply_to_id);
    END IF;
END
$$;

CREATE FUNCTION status_recounted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM status_counts_move(OLD, -1);
    PERFORM status_counts_move(NEW, 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER status_recounted
    AFTER UPDATE OF account_id, reblog_of_id, in_reply_to_id, visibility ON statuses
    FOR EACH ROW EXECUTE FUNCTION status_recounted();

-- A status' deletion cascades (its reblogs and favourites go, its replies
-- lose their parent) before the statement's counting runs, and the cascades
-- update its counters: take the author's row first, as every write does.
CREATE FUNCTION statuses_lock_author() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.reblog_of_id IS NULL AND OLD.visibility IN ('public', 'unlisted') THEN
        PERFORM 1 FROM account_counts WHERE user_id = OLD.account_id FOR NO KEY UPDATE;
    END IF;
    RETURN OLD;
END
$$;

CREATE TRIGGER statuses_lock_author BEFORE DELETE ON statuses
    FOR EACH ROW EXECUTE FUNCTION statuses_lock_author();

-- What the favourites in "changed" add or take away.
CREATE FUNCTION favourites_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE status_counts c
        SET favourites = c.favourites + CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END * d.n
        FROM (SELECT status_id, count(*) AS n FROM changed
              WHERE account_counts_in(account_id) GROUP BY status_id) d
        WHERE c.status_id = d.status_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER favourites_counted AFTER INSERT ON favourites
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION favourites_counted();
CREATE TRIGGER favourites_uncounted AFTER DELETE ON favourites
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION favourites_counted();

CREATE FUNCTION favourite_recounted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF account_counts_in(OLD.account_id) THEN
        UPDATE status_counts SET favourites = favourites - 1 WHERE status_id = OLD.status_id;
    END IF;
    IF account_counts_in(NEW.account_id) THEN
        UPDATE status_counts SET favourites = favourites + 1 WHERE status_id = NEW.status_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER favourite_recounted AFTER UPDATE OF account_id, status_id ON favourites
    FOR EACH ROW EXECUTE FUNCTION favourite_recounted();

-- What the follows in "changed" add or take away; the accounts' rows are
-- locked in the order of their ids first.
CREATE FUNCTION follows_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    PERFORM 1 FROM account_counts
        WHERE user_id IN (SELECT follower_id FROM changed WHERE state = 'accepted'
                          UNION SELECT followee_id FROM changed WHERE state = 'accepted')
        ORDER BY user_id FOR NO KEY UPDATE;
    UPDATE account_counts c SET followers = c.followers + sign * d.n
        FROM (SELECT followee_id AS id, count(*) AS n FROM changed
              WHERE state = 'accepted' AND account_counts_in(follower_id)
              GROUP BY followee_id) d
        WHERE c.user_id = d.id;
    UPDATE account_counts c SET following = c.following + sign * d.n
        FROM (SELECT follower_id AS id, count(*) AS n FROM changed
              WHERE state = 'accepted' AND account_counts_in(followee_id)
              GROUP BY follower_id) d
        WHERE c.user_id = d.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER follows_counted AFTER INSERT ON follows
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION follows_counted();
CREATE TRIGGER follows_uncounted AFTER DELETE ON follows
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION follows_counted();

-- What one follows row adds or takes away, for an update (a request
-- accepted): the two accounts' rows are locked in the order of their ids.
CREATE FUNCTION follow_counts_move(f follows, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    follower_counts boolean := account_counts_in(f.follower_id);
    followee_counts boolean := account_counts_in(f.followee_id);
BEGIN
    IF f.state <> 'accepted' OR NOT (follower_counts OR followee_counts) THEN
        RETURN;
    END IF;
    PERFORM 1 FROM account_counts WHERE user_id IN (f.follower_id, f.followee_id)
        ORDER BY user_id FOR NO KEY UPDATE;
    UPDATE account_counts SET
        followers = followers + CASE WHEN user_id = f.followee_id AND follower_counts
                                     THEN sign ELSE 0 END,
        following = following + CASE WHEN user_id = f.follower_id AND followee_counts
                                     THEN sign ELSE 0 END
    WHERE user_id IN (f.follower_id, f.followee_id);
END
$$;

CREATE FUNCTION follow_recounted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM follow_counts_move(OLD, -1);
    PERFORM follow_counts_move(NEW, 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER follow_recounted AFTER UPDATE OF follower_id, followee_id, state ON follows
    FOR EACH ROW EXECUTE FUNCTION follow_recounted();

-- An account starting (sign 1) or ceasing (-1) to count: every count it
-- takes part in moves.  Rare (deactivation, deletion), and as large as the
-- account's history.
CREATE FUNCTION account_counts_shift(account bigint, sign integer) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE status_counts c SET favourites = favourites + sign
        FROM favourites f WHERE f.account_id = account AND c.status_id = f.status_id;
    UPDATE status_counts c SET reblogs = reblogs + sign
        FROM statuses b WHERE b.account_id = account AND c.status_id = b.reblog_of_id;
    UPDATE status_counts c SET replies = replies + sign * r.n
        FROM (SELECT in_reply_to_id, count(*) AS n FROM statuses
              WHERE account_id = account AND in_reply_to_id IS NOT NULL
                AND visibility IN ('public', 'unlisted')
              GROUP BY in_reply_to_id) r
        WHERE c.status_id = r.in_reply_to_id;
    UPDATE account_counts c SET followers = followers + sign
        FROM follows f WHERE f.follower_id = account AND f.state = 'accepted'
                         AND c.user_id = f.followee_id;
    UPDATE account_counts c SET following = following + sign
        FROM follows f WHERE f.followee_id = account AND f.state = 'accepted'
                         AND c.user_id = f.follower_id;
END
$$;

CREATE FUNCTION users_counted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO account_counts (user_id) VALUES (NEW.id);
    ELSIF TG_OP = 'DELETE' THEN
        -- Before the row goes (and its cascades run): what it counted in goes.
        IF NOT (OLD.deactivated OR OLD.deleted) THEN
            PERFORM account_counts_shift(OLD.id, -1);
        END IF;
        RETURN OLD;
    ELSIF (OLD.deactivated OR OLD.deleted) <> (NEW.deactivated OR NEW.deleted) THEN
        PERFORM account_counts_shift(NEW.id, CASE WHEN NEW.deactivated OR NEW.deleted
                                                  THEN -1 ELSE 1 END);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_counted AFTER INSERT OR UPDATE OF deactivated, deleted ON users
    FOR EACH ROW EXECUTE FUNCTION users_counted();
CREATE TRIGGER users_uncounted BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_counted();

-- Every counter recounted from the rows, with the writers shut out
-- meanwhile: the backfill below, and for data loaded with the triggers off
-- (bench/ seeds with session_replication_role = replica).
CREATE FUNCTION counters_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, statuses, favourites, follows IN SHARE MODE;
    DELETE FROM account_counts;
    DELETE FROM status_counts;
    INSERT INTO account_counts (user_id, statuses, followers, following)
    SELECT u.id, coalesce(s.n, 0), coalesce(fr.n, 0), coalesce(fg.n, 0)
    FROM users u
    LEFT JOIN (SELECT account_id AS id, count(*) AS n FROM statuses
               WHERE reblog_of_id IS NULL AND visibility IN ('public', 'unlisted')
               GROUP BY account_id) s ON s.id = u.id
    LEFT JOIN (SELECT f.followee_id AS id, count(*) AS n FROM follows f
               JOIN users a ON a.id = f.follower_id
               WHERE f.state = 'accepted' AND NOT a.deactivated AND NOT a.deleted
               GROUP BY f.followee_id) fr ON fr.id = u.id
    LEFT JOIN (SELECT f.follower_id AS id, count(*) AS n FROM follows f
               JOIN users a ON a.id = f.followee_id
               WHERE f.state = 'accepted' AND NOT a.deactivated AND NOT a.deleted
               GROUP BY f.follower_id) fg ON fg.id = u.id;
    INSERT INTO status_counts (status_id, replies, reblogs, favourites)
    SELECT s.id, coalesce(r.n, 0), coalesce(b.n, 0), coalesce(f.n, 0)
    FROM statuses s
    LEFT JOIN (SELECT x.in_reply_to_id AS id, count(*) AS n FROM statuses x
               JOIN users a ON a.id = x.account_id
               WHERE x.in_reply_to_id IS NOT NULL AND x.visibility IN ('public', 'unlisted')
                 AND NOT a.deactivated AND NOT a.deleted
               GROUP BY x.in_reply_to_id) r ON r.id = s.id
    LEFT JOIN (SELECT x.reblog_of_id AS id, count(*) AS n FROM statuses x
               JOIN users a ON a.id = x.account_id
               WHERE x.reblog_of_id IS NOT NULL AND NOT a.deactivated AND NOT a.deleted
               GROUP BY x.reblog_of_id) b ON b.id = s.id
    LEFT JOIN (SELECT x.status_id AS id, count(*) AS n FROM favourites x
               JOIN users a ON a.id = x.account_id
               WHERE NOT a.deactivated AND NOT a.deleted
               GROUP BY x.status_id) f ON f.id = s.id;
END
$$;

SELECT counters_recount();
