-- Full-text search of statuses' source text for /api/v2/search (core
-- PostgreSQL, the 'simple' configuration: no stemming, any language).
CREATE INDEX statuses_search_idx ON statuses
    USING gin (to_tsvector('simple', source)) WHERE reblog_of_id IS NULL;
