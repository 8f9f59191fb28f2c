-- "fullname" reads badly in the API.
ALTER TABLE accounts RENAME COLUMN fullname TO display_name;
