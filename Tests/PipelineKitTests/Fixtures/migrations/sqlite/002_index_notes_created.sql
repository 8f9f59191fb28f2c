-- SQLite has no CREATE INDEX CONCURRENTLY: this folder's name says SQLite.
CREATE INDEX IF NOT EXISTS idx_notes_created ON notes(created_at);
