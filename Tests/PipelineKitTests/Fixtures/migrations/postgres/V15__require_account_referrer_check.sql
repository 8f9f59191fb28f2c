-- The safe way to require a value: a CHECK constraint added NOT VALID (no scan, brief lock),
-- then validated (a scan that lets reads and writes continue).
ALTER TABLE accounts ADD CONSTRAINT accounts_referrer_not_null CHECK (referrer IS NOT NULL) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_referrer_not_null;
