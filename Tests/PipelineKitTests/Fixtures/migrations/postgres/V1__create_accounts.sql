-- Accounts: one row per customer organisation.
CREATE TABLE accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text NOT NULL,
    fullname    text,
    legacy_flag boolean,
    status      text NOT NULL DEFAULT 'active'
        CONSTRAINT accounts_status_check CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Indexes on a table created in this same file are safe: it is new and empty.
CREATE UNIQUE INDEX accounts_email_key ON accounts (email);
CREATE INDEX ON accounts (created_at);

CREATE TABLE invoices (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id),
    amount     integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE invoices ADD COLUMN currency char(3) NOT NULL;
