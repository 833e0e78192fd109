-- A job can be handed at its order straight to an executor's poll that waits for one
-- (jobs/service.ts, the orders' batch): it is inserted already accepted, or accepted and
-- started, for that executor. Its history still reads as the lifecycle goes: pending (by the
-- buyer), accepted, and running when started (by the executor). Otherwise the function is
-- migration 0011's.
CREATE OR REPLACE FUNCTION jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text;
  told boolean;
BEGIN
  IF TG_OP = 'INSERT' AND NEW.status = 'pending' THEN
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
    VALUES (NEW.job_id, NEW.attempt, NULL, NEW.status, NEW.changed_by, NEW.changed_by_account_id);
  ELSIF TG_OP = 'INSERT' THEN
    -- Handed at its order to an executor's waiting poll: ordered by the buyer, then taken.
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
    VALUES (NEW.job_id, NEW.attempt, NULL, 'pending', 'buyer', NEW.buyer_account_id);
    INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
    VALUES (NEW.job_id, NEW.attempt, 'pending', 'accepted', NEW.changed_by, NEW.changed_by_account_id);
    IF NEW.status = 'running' THEN
      INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
      VALUES (NEW.job_id, NEW.attempt, 'accepted', 'running', NEW.changed_by, NEW.changed_by_account_id);
    END IF;
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
  -- Changes to pending wake executors' polls in every process: always told. Any other change
  -- only while some process watches (change_listeners); the shared lock lets a process that
  -- starts watching wait for changes already past this check (ChangeListeners.register).
  IF NEW.status = 'pending' THEN
    told := true;
  ELSE
    told := watched();
  END IF;
  IF told THEN
    PERFORM pg_notify('agnt_jobs', json_build_object(
      'job_id', NEW.job_id,
      'agent_id', NEW.agent_id,
      'provider_account_id', NEW.provider_account_id,
      'status', NEW.status,
      'xid', pg_current_xact_id()::text
    )::text);
  END IF;
  RETURN NULL;
END
$$;
