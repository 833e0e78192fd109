-- One trigger function instead of two for every change of a job: it writes the job_events row
-- and sends the notification. Updates that change neither (reservations, lease renewals,
-- bookkeeping) are filtered by the trigger's WHEN clause, without calling the function at all.
-- What is recorded and notified is as before (migrations 0001, 0003 and 0007), and each
-- notification now names the transaction that made the change (`xid`), so that the process
-- that made it (and woke its own waiters already) knows its echo and does not wake them twice.
CREATE FUNCTION jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
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
  -- Here on an insert, a change of the above, or a released reservation of a pending job
  -- (waiting executors may take it now). About 170 bytes, far below NOTIFY's 8000-byte limit.
  PERFORM pg_notify('agnt_jobs', json_build_object(
    'job_id', NEW.job_id,
    'agent_id', NEW.agent_id,
    'provider_account_id', NEW.provider_account_id,
    'status', NEW.status,
    'xid', pg_current_xact_id()::text
  )::text);
  RETURN NULL;
END
$$;

DROP TRIGGER jobs_record_event ON jobs;
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION jobs_record_event();
DROP FUNCTION jobs_notify();

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_changed();
CREATE TRIGGER jobs_changed AFTER UPDATE ON jobs
  FOR EACH ROW
  WHEN (NEW.status IS DISTINCT FROM OLD.status
        OR NEW.attempt IS DISTINCT FROM OLD.attempt
        OR NEW.progress IS DISTINCT FROM OLD.progress
        OR NEW.progress_message IS DISTINCT FROM OLD.progress_message
        OR (NEW.status = 'pending' AND OLD.reserved_until IS NOT NULL
            AND NEW.reserved_until IS NULL))
  EXECUTE FUNCTION jobs_changed();
