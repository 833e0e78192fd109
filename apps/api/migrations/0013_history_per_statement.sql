-- A job's history and notifications are written once per statement instead of once per row.
-- The orders' batch inserts many jobs in one statement, and the batched transitions change
-- many in one: a row trigger ran its function, and each job_events INSERT in it (up to three
-- per job, each with its executor start, CHECK constraints and foreign-key check), once per
-- job; these triggers run one INSERT and one notifying SELECT for the whole statement, over
-- its transition tables. What is recorded and notified is migration 0012's, row for row:
-- - an inserted job records pending (by the buyer); one handed at its order to a waiting
--   executor also records accepted, and running when started (by the executor);
-- - a change of status, attempt or progress records one event; a pending job claimed straight
--   to running records pending → accepted, then accepted → running;
-- - changes to pending, and a released reservation of a pending job, are always notified;
--   any other change only while some process watches (watched(), migration 0011), asked at
--   most once per statement and only when such a change is there to notify (`(SELECT
--   watched())` is evaluated on first use).
-- Events of one job are numbered in the order they happened (ORDER BY … seq).

-- The notification of one job's change (about 170 bytes, far below NOTIFY's 8000-byte limit);
-- `xid` names the transaction, so the process that made the change knows its echo.
CREATE FUNCTION job_notice(job_id uuid, agent_id uuid, provider_account_id uuid, status text)
RETURNS text LANGUAGE sql AS $$
  SELECT json_build_object('job_id', job_id, 'agent_id', agent_id,
                           'provider_account_id', provider_account_id, 'status', status,
                           'xid', pg_current_xact_id()::text)::text
$$;

CREATE FUNCTION jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id)
  SELECT n.job_id, n.attempt, e.from_status, e.to_status, e.actor, e.actor_account_id
  FROM inserted_jobs n
  CROSS JOIN LATERAL (VALUES
    (1, NULL, 'pending',
     CASE WHEN n.status = 'pending' THEN n.changed_by ELSE 'buyer' END,
     CASE WHEN n.status = 'pending' THEN n.changed_by_account_id ELSE n.buyer_account_id END),
    (2, 'pending', 'accepted', n.changed_by, n.changed_by_account_id),
    (3, 'accepted', 'running', n.changed_by, n.changed_by_account_id)
  ) AS e (seq, from_status, to_status, actor, actor_account_id)
  WHERE e.seq = 1 OR (e.seq = 2 AND n.status <> 'pending') OR (e.seq = 3 AND n.status = 'running')
  ORDER BY n.job_id, e.seq;

  PERFORM pg_notify('agnt_jobs', job_notice(n.job_id, n.agent_id, n.provider_account_id, n.status))
  FROM inserted_jobs n
  WHERE n.status = 'pending' OR (SELECT watched());
  RETURN NULL;
END
$$;

CREATE FUNCTION jobs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_events (job_id, attempt, from_status, to_status, actor, actor_account_id,
                          progress, message, reason, failure_code)
  SELECT n.job_id, n.attempt, e.from_status, e.to_status, n.changed_by, n.changed_by_account_id,
         CASE WHEN e.last THEN n.progress END,
         CASE WHEN e.last THEN n.progress_message END,
         CASE WHEN e.last AND n.status IS DISTINCT FROM o.status THEN n.decision_reason END,
         CASE WHEN e.last THEN n.failure_code END
  FROM old_jobs o
  JOIN new_jobs n ON n.job_id = o.job_id
  CROSS JOIN LATERAL (VALUES
    (1, false, 'pending', 'accepted'),
    (2, true, CASE WHEN o.status = 'pending' AND n.status = 'running' THEN 'accepted' ELSE o.status END,
     n.status)
  ) AS e (seq, last, from_status, to_status)
  WHERE (n.status IS DISTINCT FROM o.status
         OR n.attempt IS DISTINCT FROM o.attempt
         OR n.progress IS DISTINCT FROM o.progress
         OR n.progress_message IS DISTINCT FROM o.progress_message)
    AND (e.last OR (o.status = 'pending' AND n.status = 'running'))
  ORDER BY n.job_id, e.seq;

  PERFORM pg_notify('agnt_jobs', job_notice(n.job_id, n.agent_id, n.provider_account_id, n.status))
  FROM old_jobs o
  JOIN new_jobs n ON n.job_id = o.job_id
  -- CASE keeps the order: a change with nothing to notify (a lease renewal) never asks.
  WHERE CASE WHEN n.status IS DISTINCT FROM o.status
                  OR n.attempt IS DISTINCT FROM o.attempt
                  OR n.progress IS DISTINCT FROM o.progress
                  OR n.progress_message IS DISTINCT FROM o.progress_message
                  OR (n.status = 'pending' AND o.reserved_until IS NOT NULL
                      AND n.reserved_until IS NULL)
             THEN n.status = 'pending' OR (SELECT watched()) END;
  RETURN NULL;
END
$$;

DROP TRIGGER jobs_inserted ON jobs;
DROP TRIGGER jobs_changed ON jobs;
DROP FUNCTION jobs_changed();

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS inserted_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_inserted();
CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_updated();
