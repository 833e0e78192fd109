-- Notify a job's change only when some process may be waiting for it. Every change used to be
-- notified, and a notifying transaction holds PostgreSQL's notification-queue lock through its
-- commit: with three notifying commits per job they queued behind each other (measured in
-- docs/performance.md). Changes to pending still always are (every process's executor polls
-- wait for them); any other change only while a row of change_listeners says a process watches
-- something that needs it: a job's event stream or long-poll, an executor waiting on jobs that
-- are not pending, or a sweeper with no deadline in sight. Each process keeps at most one row,
-- named by the backend pid of its LISTEN connection (a row whose backend is gone is stale and
-- removed by the next registration). Otherwise the function is migration 0010's.
CREATE TABLE change_listeners (
  listener_pid  integer     PRIMARY KEY,
  since         timestamptz NOT NULL DEFAULT now()
);

-- True while some process watches every change. Takes the watch lock (advisory key 74010011)
-- shared until the transaction ends: a process registering takes it exclusively, so that once
-- its row is in, every change that did not see the row has committed.
CREATE FUNCTION watched() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(74010011);
  RETURN EXISTS (SELECT 1 FROM change_listeners);
END
$$;

CREATE OR REPLACE FUNCTION jobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  previous text;
  told boolean;
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
