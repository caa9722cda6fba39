-- Accounts, OAuth and everything a login needs.

-- Time-ordered 64-bit ids: milliseconds since the epoch in the high bits, a
-- sequence in the low 16, so ids sort by creation and never collide unless
-- one millisecond sees 65,536 of them.
CREATE SEQUENCE flake_seq;
CREATE FUNCTION next_id() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16)
           | (nextval('flake_seq') & 65535)
$$;

CREATE TABLE users (
    id                      bigint PRIMARY KEY DEFAULT next_id(),
    nickname                text NOT NULL,
    email                   text,
    name                    text,
    bio                     text NOT NULL DEFAULT '',
    bio_html                text NOT NULL DEFAULT '',
    password_hash           text,
    local                   boolean NOT NULL DEFAULT true,
    ap_id                   text NOT NULL UNIQUE,
    locked                  boolean NOT NULL DEFAULT false,
    is_admin                boolean NOT NULL DEFAULT false,
    is_moderator            boolean NOT NULL DEFAULT false,
    deactivated             boolean NOT NULL DEFAULT false,
    -- A deleted account keeps this row (scrubbed) so its nickname is never reused.
    deleted                 boolean NOT NULL DEFAULT false,
    confirmation_pending    boolean NOT NULL DEFAULT false,
    confirmation_token      text,
    hide_favorites          boolean NOT NULL DEFAULT false,
    hide_followers          boolean NOT NULL DEFAULT false,
    hide_follows            boolean NOT NULL DEFAULT false,
    no_rich_text            boolean NOT NULL DEFAULT false,
    show_role               boolean NOT NULL DEFAULT true,
    skip_thread_containment boolean NOT NULL DEFAULT false,
    default_scope           text NOT NULL DEFAULT 'public',
    notification_settings   jsonb NOT NULL DEFAULT '{}',
    settings_store          jsonb NOT NULL DEFAULT '{}',
    tags                    text[] NOT NULL DEFAULT '{}',
    avatar                  jsonb,
    banner                  jsonb,
    background              jsonb,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_nickname_idx ON users (lower(nickname));
CREATE UNIQUE INDEX users_email_idx ON users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE apps (
    id            bigserial PRIMARY KEY,
    client_name   text NOT NULL,
    redirect_uris text NOT NULL,
    scopes        text[] NOT NULL,
    website       text,
    client_id     text NOT NULL UNIQUE,
    client_secret text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Secrets handed to clients (tokens, codes, session ids) are stored as
-- SHA-256 digests: a copy of the database logs nobody in.
CREATE TABLE oauth_authorizations (
    id           bigserial PRIMARY KEY,
    code_hash    text NOT NULL UNIQUE,
    app_id       bigint NOT NULL REFERENCES apps ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    scopes       text[] NOT NULL,
    redirect_uri text NOT NULL,
    valid_until  timestamptz NOT NULL,
    used         boolean NOT NULL DEFAULT false
);

CREATE TABLE oauth_tokens (
    id                 bigserial PRIMARY KEY,
    token_hash         text NOT NULL UNIQUE,
    refresh_token_hash text NOT NULL UNIQUE,
    app_id             bigint NOT NULL REFERENCES apps ON DELETE CASCADE,
    user_id            bigint REFERENCES users ON DELETE CASCADE,
    scopes             text[] NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_tokens_user_idx ON oauth_tokens (user_id);

-- The _pleroma_key cookie: an opaque id standing for one OAuth token.
CREATE TABLE sessions (
    id_hash    text PRIMARY KEY,
    token_id   bigint NOT NULL REFERENCES oauth_tokens ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invites (
    id          bigserial PRIMARY KEY,
    token       text NOT NULL UNIQUE,
    max_use     integer CHECK (max_use > 0),
    uses        integer NOT NULL DEFAULT 0,
    expires_at  date,
    used        boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE password_reset_tokens (
    token_hash  text PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    valid_until timestamptz NOT NULL,
    used        boolean NOT NULL DEFAULT false
);
