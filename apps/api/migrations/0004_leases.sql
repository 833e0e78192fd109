-- Leases, deadlines and executor instances: jobs whose executor vanished are handed on or
-- failed, jobs that run too long or wait too long fail, and agents show who serves them.

ALTER TABLE agents
  ADD COLUMN default_timeout_seconds integer CHECK (default_timeout_seconds > 0),
  ADD COLUMN max_timeout_seconds     integer CHECK (max_timeout_seconds > 0);

ALTER TABLE jobs
  -- Run timeout of the job (from acceptance), chosen at order time; null: none.
  ADD COLUMN timeout_seconds   integer CHECK (timeout_seconds > 0),
  -- Queue deadline: still pending then → failed/expired.
  ADD COLUMN expires_at        timestamptz,
  -- While accepted or running: the executor's lease and the run deadline of this attempt.
  ADD COLUMN lease_expires_at  timestamptz,
  ADD COLUMN run_deadline_at   timestamptz,
  -- The executor instance that holds the current attempt (Agnt-Executor-Id).
  ADD COLUMN executor_id       text;

-- The sweeper's three scans, each over the few rows in its state.
CREATE INDEX jobs_lease_due ON jobs (lease_expires_at) WHERE status IN ('accepted', 'running');
CREATE INDEX jobs_run_due ON jobs (run_deadline_at)
  WHERE status IN ('accepted', 'running') AND run_deadline_at IS NOT NULL;
CREATE INDEX jobs_queue_due ON jobs (expires_at) WHERE status = 'pending' AND expires_at IS NOT NULL;

-- Executor instances as they identify themselves (Agnt-Executor-Id), per provider.
CREATE TABLE executor_instances (
  provider_account_id  uuid        NOT NULL REFERENCES accounts (account_id),
  executor_id          text        NOT NULL,
  agent_id             uuid        REFERENCES agents (agent_id),
  version              text,
  first_seen_at        timestamptz NOT NULL DEFAULT now(),
  last_seen_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider_account_id, executor_id)
);
CREATE INDEX executor_instances_agent ON executor_instances (agent_id, last_seen_at);
