-- Account search (GET /api/v1/accounts/search) matches nickname and name
-- prefixes case-insensitively.  text_pattern_ops makes LIKE 'abc%' an index
-- range scan whatever the database's collation; the unique lower(nickname)
-- index only serves it under the C collation.
CREATE INDEX users_nickname_prefix_idx ON users (lower(nickname) text_pattern_ops);
CREATE INDEX users_name_prefix_idx ON users (lower(name) text_pattern_ops);
