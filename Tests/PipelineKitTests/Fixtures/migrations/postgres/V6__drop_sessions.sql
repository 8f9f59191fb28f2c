-- Sessions moved to Redis.
DROP TABLE IF EXISTS sessions CASCADE;
