-- dialect: sqlite
-- The on-device cache of the mobile app (SQLite, whatever the folder is called).
CREATE TABLE entries (key TEXT PRIMARY KEY, value BLOB, expires_at INTEGER);
