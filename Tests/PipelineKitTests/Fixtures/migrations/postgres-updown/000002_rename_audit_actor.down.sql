ALTER TABLE audit_log RENAME COLUMN actor_name TO actor;
ALTER TABLE audit_log DROP COLUMN actor_id;
