-- Region defaults to the first data centre; existing rows get the default.
ALTER TABLE accounts ADD COLUMN region text NOT NULL DEFAULT 'eu-west-1';
ALTER TABLE accounts ADD COLUMN referrer text;
ALTER TABLE accounts ADD CONSTRAINT accounts_region_check CHECK (region <> '') NOT VALID;
