-- dialect: sqlite
-- Version 1 of the shop's schema (applied by the demo's bootstrap, before any deploy).
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE INDEX items_name ON items (name);
