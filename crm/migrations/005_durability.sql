-- Storage durability (crm/journal.ts, crm/durable-store.ts).
-- Why a call has no or a cut recording (folder unwritable, disk full, crash); null when it is whole.
ALTER TABLE calls ADD COLUMN recording_error text;
-- The instance (one DATA_DIR) that took the call: at start an instance closes only its own rows left
-- open by a crash, never those of other instances sharing the server.
ALTER TABLE calls ADD COLUMN instance_id text;
CREATE INDEX calls_open_idx ON calls (instance_id) WHERE ended_at IS NULL;
-- Journal entries already replayed: written in the same transaction as the entry's effect, so a
-- replay cut by a crash or a lost COMMIT acknowledgement never applies an entry twice.
CREATE TABLE journal_applied (
  journal_id text NOT NULL,
  seq        bigint NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (journal_id, seq)
);
