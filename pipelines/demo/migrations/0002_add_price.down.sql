-- dialect: sqlite
-- Downgrade of 0002: the column goes; the rows and every other column stay.
ALTER TABLE items DROP COLUMN price_cents;
