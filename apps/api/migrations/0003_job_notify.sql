-- Wakes long-polls in every API process: each one LISTENs on agnt_jobs and, on a notification,
-- wakes the requests waiting on that job, its agent or its provider, which then read again.
-- NOTIFY is transactional: listeners hear of a change when it commits, never of one rolled back.
-- Notified: a new job, and every change that also writes a job_events row (status, attempt,
-- progress). Other updates (bookkeeping a waiter does not look at) stay silent.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.attempt IS NOT DISTINCT FROM OLD.attempt
       AND NEW.progress IS NOT DISTINCT FROM OLD.progress
       AND NEW.progress_message IS NOT DISTINCT FROM OLD.progress_message THEN
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
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_notify();
