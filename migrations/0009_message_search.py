"""The search index of messages (app/messages/search.py): one row a message, its characters and
pairs of characters; filled for the messages already there."""
from peewee import PostgresqlDatabase


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("CREATE TABLE message_search (message_id integer PRIMARY KEY "
                       "REFERENCES message (id) ON DELETE CASCADE, doc tsvector NOT NULL)")
        db.execute_sql("CREATE INDEX message_search_doc ON message_search USING gin (doc)")
    else:
        # ascii: every non-ASCII character is part of a token, so each gram stays whole (with the
        # _ before its firm's id).
        db.execute_sql("CREATE VIRTUAL TABLE message_search USING fts5(doc, tokenize = \"ascii tokenchars '_'\", "
                       "columnsize = 0)")
        db.execute_sql("CREATE TRIGGER message_search_gone AFTER DELETE ON message "
                       "BEGIN DELETE FROM message_search WHERE rowid = old.id; END")
    # The app's own normalisation: the index must be built exactly as queries will read it.
    from app.messages import search
    search.reindex()


def down(migrator, db):
    db.execute_sql("DROP TRIGGER IF EXISTS message_search_gone")
    db.execute_sql("DROP TABLE IF EXISTS message_search")
