-- Invoice lists are filtered by account.
CREATE INDEX invoices_account_id_idx ON invoices USING btree (account_id);
