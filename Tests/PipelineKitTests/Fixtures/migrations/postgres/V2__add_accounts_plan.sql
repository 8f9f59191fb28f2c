-- Every account gets a billing plan.
ALTER TABLE accounts ADD COLUMN plan text NOT NULL;
