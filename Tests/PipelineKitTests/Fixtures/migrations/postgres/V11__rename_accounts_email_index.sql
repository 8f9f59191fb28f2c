-- Renaming an index does not change what the application queries.
ALTER INDEX accounts_email_key RENAME TO accounts_email_uniq;
