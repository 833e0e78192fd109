-- Reservations: the pending jobs a poll hands out are reserved for the executor that polled,
-- so executors polling together are never handed the same job (and never race to accept it).
-- A reservation lapses unless the job is accepted or rejected in time.
ALTER TABLE jobs
  ADD COLUMN reserved_until timestamptz,
  -- `exec:<Agnt-Executor-Id>` (its next poll gets the job again) or `poll:<uuid>`.
  ADD COLUMN reserved_by    text;

-- The sweeper finds lapsing reservations to wake the executors waiting for jobs.
CREATE INDEX jobs_reserved_due ON jobs (reserved_until)
  WHERE status = 'pending' AND reserved_until IS NOT NULL;

-- Also notify when a pending job's reservation is released: waiting executors may take it now.
CREATE OR REPLACE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.attempt IS NOT DISTINCT FROM OLD.attempt
       AND NEW.progress IS NOT DISTINCT FROM OLD.progress
       AND NEW.progress_message IS NOT DISTINCT FROM OLD.progress_message
       AND NOT (NEW.status = 'pending' AND OLD.reserved_until IS NOT NULL
                AND NEW.reserved_until IS NULL) THEN
      RETURN NULL;
    END IF;
  END IF;
  -- About 150 bytes, far below NOTIFY's 8000-byte limit.
  PERFORM pg_notify('agnt_jobs', json_build_object(
    'job_id', NEW.job_id,
    'agent_id', NEW.agent_id,
    'provider_account_id', NEW.provider_account_id,
    'status', NEW.status
  )::text);
  RETURN NULL;
END
$$;
