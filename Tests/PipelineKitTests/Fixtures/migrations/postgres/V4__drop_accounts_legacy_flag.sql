/*
 * legacy_flag has not been read since release 2.14.
 */
ALTER TABLE accounts
    DROP COLUMN legacy_flag;
