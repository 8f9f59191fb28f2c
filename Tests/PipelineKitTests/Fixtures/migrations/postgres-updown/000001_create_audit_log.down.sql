-- Undo 000001: destructive by design, and expected in a downgrade.
DROP INDEX IF EXISTS audit_log_actor_idx;
DROP TABLE IF EXISTS audit_log;
