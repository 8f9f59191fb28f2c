ALTER TABLE audit_log ADD COLUMN actor_id bigint;
-- pipeline: allow renaming-column -- audit_log is written by the worker only, deployed with this migration
ALTER TABLE audit_log RENAME COLUMN actor TO actor_name;
