-- What showing a status counts and lists must not scan the statuses table.

-- Reblogs of a status: reblogs_count, reblogged_by pages (newest first), and
-- the ON DELETE CASCADE of a deleted original.
CREATE INDEX statuses_reblogs_idx ON statuses (reblog_of_id, id DESC)
    WHERE reblog_of_id IS NOT NULL;

-- Favourites of a status, newest first: favourited_by pages; it also serves
-- what favourites_status_idx did (counts, the cascade), which it replaces.
CREATE INDEX favourites_status_page_idx ON favourites (status_id, id DESC);
DROP INDEX favourites_status_idx;

-- An account's statuses_count (posts anyone may see) by an index-only scan.
CREATE INDEX statuses_account_posts_idx ON statuses (account_id)
    WHERE reblog_of_id IS NULL AND visibility IN ('public', 'unlisted');
