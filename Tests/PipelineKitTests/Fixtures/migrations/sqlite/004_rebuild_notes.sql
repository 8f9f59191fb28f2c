-- SQLite cannot change a column's type: rebuild the table (the "12-step" recipe).
PRAGMA foreign_keys = OFF;
BEGIN TRANSACTION;
CREATE TABLE new_notes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    body       BLOB,
    pinned     INTEGER NOT NULL DEFAULT 0,
    folder     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO new_notes (id, title, body, pinned, folder, created_at)
    SELECT id, title, CAST(body AS BLOB), pinned, folder, created_at FROM notes;
DROP TABLE notes;
ALTER TABLE new_notes RENAME TO notes;
CREATE INDEX idx_notes_title ON notes(title);
CREATE TRIGGER notes_touch AFTER UPDATE ON notes
BEGIN
    UPDATE notes SET created_at = CASE WHEN NEW.created_at IS NULL THEN CURRENT_TIMESTAMP ELSE NEW.created_at END
        WHERE id = NEW.id;
    DELETE FROM notes WHERE id < 0;
END;
COMMIT;
PRAGMA foreign_keys = ON;
