-- agnt schema, version 1: accounts and keys, agents, jobs with their event log, result
-- manifests and idempotency keys. Runs unchanged on a PostgreSQL server and on PGlite.

CREATE TABLE accounts (
  account_id  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  role        text        NOT NULL CHECK (role IN ('buyer', 'provider', 'admin')),
  name        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as the SHA-256 of the key; the key itself is shown once and never stored.
CREATE TABLE api_keys (
  key_id      uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id  uuid        NOT NULL REFERENCES accounts (account_id),
  name        text        NOT NULL,
  key_hash    text        NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  prefix      text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE agents (
  agent_id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_account_id  uuid        NOT NULL REFERENCES accounts (account_id),
  slug              text        NOT NULL UNIQUE,
  name              text        NOT NULL,
  description       text        NOT NULL,
  tags              text[]      NOT NULL DEFAULT '{}',
  pricing           jsonb       NOT NULL,
  input_schema      jsonb       NOT NULL,
  output_schema     jsonb       NOT NULL,
  -- Maintained by agents_search_refresh(): weighted full-text vector and lowercased text for
  -- substring matches.
  search_vector     tsvector    NOT NULL DEFAULT ''::tsvector,
  search_text       text        NOT NULL DEFAULT '',
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_search ON agents USING gin (search_vector);
CREATE INDEX agents_tags ON agents USING gin (tags);
CREATE INDEX agents_newest ON agents (created_at DESC, agent_id DESC);
CREATE INDEX agents_owner ON agents (owner_account_id);

CREATE FUNCTION agents_search_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector('english', NEW.name), 'A') ||
    setweight(to_tsvector('english', array_to_string(NEW.tags, ' ')), 'B') ||
    setweight(to_tsvector('english', NEW.description), 'C');
  NEW.search_text := lower(NEW.name || ' ' || array_to_string(NEW.tags, ' ') || ' ' || NEW.description);
  RETURN NEW;
END
$$;
CREATE TRIGGER agents_search_refresh BEFORE INSERT OR UPDATE ON agents
  FOR EACH ROW EXECUTE FUNCTION agents_search_refresh();

CREATE TABLE jobs (
  job_id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  agent_id               uuid        NOT NULL REFERENCES agents (agent_id),
  buyer_account_id       uuid        NOT NULL REFERENCES accounts (account_id),
  -- The agent's owner when the job was ordered: executor queries filter on it directly.
  provider_account_id    uuid        NOT NULL REFERENCES accounts (account_id),
  status                 text        NOT NULL DEFAULT 'pending' CHECK (status IN
                           ('pending', 'accepted', 'running', 'completed', 'failed', 'rejected', 'canceled')),
  prompt                 text        NOT NULL,
  params                 jsonb       NOT NULL,
  progress               integer     CHECK (progress BETWEEN 0 AND 100),
  progress_message       text,
  decision_reason        text,
  failure_code           text        CHECK (failure_code IN ('executor_error', 'invalid_input', 'no_output',
                           'permission_denied', 'upstream_error', 'timed_out', 'expired', 'lease_lost')),
  attempt                integer     NOT NULL DEFAULT 1 CHECK (attempt >= 1),
  max_attempts           integer     NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  created_at             timestamptz NOT NULL DEFAULT now(),
  accepted_at            timestamptz,
  started_at             timestamptz,
  updated_at             timestamptz NOT NULL DEFAULT now(),
  completed_at           timestamptz,
  -- Who made the last change; copied into job_events by jobs_record_event().
  changed_by             text        NOT NULL DEFAULT 'buyer' CHECK (changed_by IN ('buyer', 'executor', 'system')),
  changed_by_account_id  uuid,
  CHECK (attempt <= max_attempts),
  CHECK ((status = 'failed') = (failure_code IS NOT NULL))
);
-- Executors poll pending jobs of an agent, oldest first.
CREATE INDEX jobs_pending ON jobs (agent_id, created_at, job_id) WHERE status = 'pending';
-- Executors of a provider poll across its agents, and look up jobs in other statuses.
CREATE INDEX jobs_provider ON jobs (provider_account_id, status, created_at, job_id);
-- Buyers list their jobs, newest first.
CREATE INDEX jobs_buyer ON jobs (buyer_account_id, created_at DESC, job_id DESC);
-- Agent stats.
CREATE INDEX jobs_agent_status ON jobs (agent_id, status);

-- Append-only log of every change to a job: creation, each status change, each progress report.
CREATE TABLE job_events (
  event_id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id            uuid        NOT NULL REFERENCES jobs (job_id),
  attempt           integer     NOT NULL,
  from_status       text,
  to_status         text        NOT NULL,
  actor             text        NOT NULL CHECK (actor IN ('buyer', 'executor', 'system')),
  actor_account_id  uuid,
  progress          integer,
  message           text,
  reason            text,
  failure_code      text,
  at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job ON job_events (job_id, event_id);

CREATE FUNCTION job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'job_events is append-only';
END
$$;
CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE ON job_events
  FOR EACH ROW EXECUTE FUNCTION job_events_append_only();

-- Every insert into jobs and every change of status, attempt or progress writes one event, in
-- the same statement as the change itself.
CREATE FUNCTION jobs_record_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
    VALUES (NEW.job_id, NEW.attempt, NULL, NEW.status, NEW.changed_by, NEW.changed_by_account_id);
  ELSIF NEW.status IS DISTINCT FROM OLD.status
     OR NEW.attempt IS DISTINCT FROM OLD.attempt
     OR NEW.progress IS DISTINCT FROM OLD.progress
     OR NEW.progress_message IS DISTINCT FROM OLD.progress_message THEN
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id,
                            progress, message, reason, failure_code)
    VALUES (NEW.job_id, NEW.attempt, OLD.status, NEW.status, NEW.changed_by, NEW.changed_by_account_id,
            NEW.progress, NEW.progress_message,
            CASE WHEN NEW.status IS DISTINCT FROM OLD.status THEN NEW.decision_reason END,
            NEW.failure_code);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER jobs_record_event AFTER INSERT OR UPDATE ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_record_event();

-- The file manifest of a completed job's result.
CREATE TABLE job_results (
  job_id       uuid        NOT NULL REFERENCES jobs (job_id),
  path         text        NOT NULL,
  size_bytes   bigint      NOT NULL CHECK (size_bytes >= 0),
  mime_type    text        NOT NULL,
  sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  storage_key  text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expired_at   timestamptz,
  PRIMARY KEY (job_id, path)
);

-- Idempotency keys of job creation, per buyer; a key older than 24 hours may be used again.
CREATE TABLE idempotency_keys (
  buyer_account_id  uuid        NOT NULL REFERENCES accounts (account_id),
  key               text        NOT NULL,
  request_hash      text        NOT NULL,
  job_id            uuid        REFERENCES jobs (job_id),
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (buyer_account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
