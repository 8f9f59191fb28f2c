-- The status list moves to an enum table; the CHECK goes first.
ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;
