-- Constraint names are not used by the application.
ALTER TABLE accounts RENAME CONSTRAINT accounts_pkey TO accounts_id_pkey;
