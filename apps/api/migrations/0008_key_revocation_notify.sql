-- API processes cache active keys; revoking one (through the API or by hand in SQL) tells
-- every process at once, which forget it: NOTIFY agnt_keys with the key's hash.
CREATE FUNCTION api_keys_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('agnt_keys', OLD.key_hash);
  ELSIF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL OR NEW.key_hash <> OLD.key_hash
     OR NEW.account_id <> OLD.account_id THEN
    PERFORM pg_notify('agnt_keys', OLD.key_hash);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_notify_revoked AFTER UPDATE OR DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION api_keys_notify_revoked();
