-- A search for a remote status's page (its `url`, e.g. /notice/<id> or
-- /@nick/<id>) finds the status stored under its id.
CREATE INDEX statuses_url_idx ON statuses (url) WHERE url IS NOT NULL;
