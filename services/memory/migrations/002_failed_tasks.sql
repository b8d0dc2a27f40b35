-- Tasks cognition could not complete on any backend. They draw `seq` from the same `event_seq`, under the same
-- advisory lock as inputs, so the user's event feed can interleave them with inputs in commit order.
CREATE TABLE IF NOT EXISTS failed_tasks (
  id text PRIMARY KEY,
  seq bigint NOT NULL DEFAULT nextval('event_seq') UNIQUE,
  user_id text NOT NULL,
  task text NOT NULL,
  error text NOT NULL,
  backends_tried jsonb NOT NULL DEFAULT '[]'::jsonb,
  duration_ms integer NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS failed_tasks_user_seq ON failed_tasks (user_id, seq);
