-- Each notification names the transaction that made the change, so that the process that made
-- it (and woke its own waiters already) recognises its own change when the notification comes
-- back, and does not wake them twice.
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
  -- About 170 bytes, far below NOTIFY's 8000-byte limit.
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
