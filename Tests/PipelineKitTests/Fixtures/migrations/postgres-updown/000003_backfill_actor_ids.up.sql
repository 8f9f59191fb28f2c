UPDATE audit_log SET actor_id = accounts.id FROM accounts WHERE accounts.email = audit_log.actor_name;
