-- Inputs, one row per stored input. `seq` (shared by every event table) numbers rows in commit order (writers take an advisory
-- lock before drawing it), so a reader resuming "after seq N" can never miss a row that commits later.
CREATE SEQUENCE IF NOT EXISTS event_seq;
CREATE TABLE IF NOT EXISTS inputs (
  id text PRIMARY KEY,
  seq bigint NOT NULL DEFAULT nextval('event_seq') UNIQUE,
  user_id text NOT NULL,
  conversation_id text,
  content text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  "timestamp" timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz
);
CREATE INDEX IF NOT EXISTS inputs_user_time ON inputs (user_id, "timestamp" DESC);
CREATE INDEX IF NOT EXISTS inputs_conversation ON inputs (conversation_id, "timestamp");
CREATE INDEX IF NOT EXISTS inputs_user_seq ON inputs (user_id, seq);
