-- The columns of job_events that hold the contract's closed sets get the same CHECK lists as
-- jobs. A test compares every such list in the database with the contract.
ALTER TABLE job_events
  ADD CONSTRAINT job_events_from_status_check CHECK (from_status IN
    ('pending', 'accepted', 'running', 'completed', 'failed', 'rejected', 'canceled')),
  ADD CONSTRAINT job_events_to_status_check CHECK (to_status IN
    ('pending', 'accepted', 'running', 'completed', 'failed', 'rejected', 'canceled')),
  ADD CONSTRAINT job_events_failure_code_check CHECK (failure_code IN ('executor_error',
    'invalid_input', 'no_output', 'permission_denied', 'upstream_error', 'timed_out', 'expired',
    'lease_lost'));
