-- Built without blocking writes; run outside a transaction.
CREATE INDEX CONCURRENTLY IF NOT EXISTS invoices_created_at_idx ON invoices (created_at);

CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger AS $body$
BEGIN
    -- Not a statement of the migration: DROP TABLE accounts; lives in a string.
    NEW.updated_at := now();
    RETURN NEW;
END;
$body$ LANGUAGE plpgsql;

COMMENT ON TABLE invoices IS 'ALTER TABLE invoices DROP COLUMN amount; is only text here';
