-- dialect: sqlite
CREATE INDEX entries_expires_at ON entries (expires_at);
