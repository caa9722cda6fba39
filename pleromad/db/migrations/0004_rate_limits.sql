-- Rate-limit counters shared by every node (pleromad/domain/rate_limits.py).
--
-- Fixed windows, not sliding ones: one row per bucket makes a hit a single
-- upsert that takes the row lock, so nodes hitting together are counted
-- exactly; a sliding log would need a row per hit, and a sliding estimate
-- would not be exact.  The cost, up to twice the limit across a window
-- boundary, is acceptable for abuse limits, and it is what the reference's
-- counters did; the window's end is also a definite X-RateLimit-Reset.
--
-- bucket is "<limit name>:<key>", e.g. "registration:ip:192.0.2.7" or
-- "failed_login:user:42".  Times come from the clock of the node that writes
-- them (tests move a fake one); window_end is stored rather than derived, so
-- a window keeps the length it started with when the configuration changes.
CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 0),
    CHECK (window_end > window_start)
);
-- No index on window_end: the periodic purge scans a table holding only the
-- buckets active in the last window, and every reset would otherwise have to
-- update that index too.
