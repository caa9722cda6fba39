-- Captcha answers (pleromad/captcha): every provider's, so that a token is
-- consumed once on whichever node sees it first (DECISIONS 11).
CREATE TABLE captchas (
    token      text PRIMARY KEY,
    provider   text NOT NULL,
    -- What the provider needs to check a solution (never the answer in clear
    -- for our own challenges: a digest).
    answer     text NOT NULL,
    expires_at timestamptz NOT NULL,
    used       boolean NOT NULL DEFAULT false
);
CREATE INDEX captchas_expires_idx ON captchas (expires_at);
