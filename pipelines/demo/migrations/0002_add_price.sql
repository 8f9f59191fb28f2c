-- dialect: sqlite
-- Version 2 adds a price. NOT NULL with a DEFAULT: rows written by v1 (which does not know
-- the column) stay valid while v1 and v2 serve side by side.
ALTER TABLE items ADD COLUMN price_cents INTEGER NOT NULL DEFAULT 0;
