-- A poll that claims with `claim=start` takes a pending job straight to running in one UPDATE.
-- The job still passes through accepted, and its history says so: such a change is recorded as
-- two events, pending → accepted then accepted → running, both by the executor. Otherwise the
-- function is migration 0009's.
CREATE OR REPLACE FUNCTION jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
    VALUES (NEW.job_id, NEW.attempt, NULL, NEW.status, NEW.changed_by, NEW.changed_by_account_id);
  ELSIF NEW.status IS DISTINCT FROM OLD.status
     OR NEW.attempt IS DISTINCT FROM OLD.attempt
     OR NEW.progress IS DISTINCT FROM OLD.progress
     OR NEW.progress_message IS DISTINCT FROM OLD.progress_message THEN
    previous := OLD.status;
    IF OLD.status = 'pending' AND NEW.status = 'running' THEN
      INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
      VALUES (NEW.job_id, NEW.attempt, 'pending', 'accepted', NEW.changed_by, NEW.changed_by_account_id);
      previous := 'accepted';
    END IF;
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id,
                            progress, message, reason, failure_code)
    VALUES (NEW.job_id, NEW.attempt, previous, NEW.status, NEW.changed_by, NEW.changed_by_account_id,
            NEW.progress, NEW.progress_message,
            CASE WHEN NEW.status IS DISTINCT FROM OLD.status THEN NEW.decision_reason END,
            NEW.failure_code);
  END IF;
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
