-- Input files attached to an order, and retention bookkeeping for stored files.

CREATE TABLE job_inputs (
  job_id       uuid        NOT NULL REFERENCES jobs (job_id),
  path         text        NOT NULL,
  size_bytes   bigint      NOT NULL CHECK (size_bytes >= 0),
  mime_type    text        NOT NULL,
  sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  storage_key  text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expired_at   timestamptz,
  PRIMARY KEY (job_id, path)
);

-- The retention sweeper looks for stored files past their age.
CREATE INDEX job_results_unexpired ON job_results (created_at) WHERE expired_at IS NULL;
CREATE INDEX job_inputs_unexpired ON job_inputs (created_at) WHERE expired_at IS NULL;
