import type { Role } from "@agnt/contract";
import type { Queryable } from "../db/types.ts";

export interface AccountRow {
  account_id: string;
  role: Role;
  name: string;
  created_at: Date;
}

export interface KeyRow {
  key_id: string;
  account_id: string;
  role: Role;
  name: string;
  prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** The principal behind an active key. */
export interface PrincipalRow {
  key_id: string;
  account_id: string;
  role: Role;
  name: string;
}

/** Inserts an account (with a chosen id, for the demo provider) and returns it. */
export async function insertAccount(
  db: Queryable,
  account: { role: Role; name: string; accountId?: string },
): Promise<AccountRow> {
  const { rows } = await db.query<AccountRow>(
    `INSERT INTO accounts (account_id, role, name)
     VALUES (COALESCE($1::uuid, gen_random_uuid()), $2, $3)
     ON CONFLICT (account_id) DO UPDATE SET name = accounts.name
     RETURNING account_id, role, name, created_at`,
    [account.accountId ?? null, account.role, account.name],
  );
  return rows[0] as AccountRow;
}

export async function findAccount(
  db: Queryable,
  accountId: string,
): Promise<AccountRow | undefined> {
  const { rows } = await db.query<AccountRow>(
    "SELECT account_id, role, name, created_at FROM accounts WHERE account_id = $1",
    [accountId],
  );
  return rows[0];
}

export async function insertKey(
  db: Queryable,
  key: { accountId: string; name: string; hash: string; prefix: string },
): Promise<KeyRow> {
  const { rows } = await db.query<KeyRow>(
    `WITH k AS (
       INSERT INTO api_keys (account_id, name, key_hash, prefix) VALUES ($1, $2, $3, $4)
       RETURNING key_id, account_id, name, prefix, created_at, revoked_at
     )
     SELECT k.key_id, k.account_id, a.role, k.name, k.prefix, k.created_at, k.revoked_at
     FROM k JOIN accounts a USING (account_id)`,
    [key.accountId, key.name, key.hash, key.prefix],
  );
  return rows[0] as KeyRow;
}

/** The account behind an unrevoked key hash. */
export async function findPrincipalByKeyHash(
  db: Queryable,
  hash: string,
): Promise<PrincipalRow | undefined> {
  const { rows } = await db.query<PrincipalRow>(
    `SELECT k.key_id, k.account_id, a.role, a.name
     FROM api_keys k JOIN accounts a USING (account_id)
     WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
    [hash],
    { prepare: true },
  );
  return rows[0];
}

/** Marks a key revoked (keeping the first revocation time) and returns it, with its hash. */
export async function revokeKey(
  db: Queryable,
  keyId: string,
): Promise<(KeyRow & { key_hash: string }) | undefined> {
  const { rows } = await db.query<KeyRow & { key_hash: string }>(
    `WITH k AS (
       UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE key_id = $1
       RETURNING key_id, account_id, name, prefix, created_at, revoked_at, key_hash
     )
     SELECT k.key_id, k.account_id, a.role, k.name, k.prefix, k.created_at, k.revoked_at, k.key_hash
     FROM k JOIN accounts a USING (account_id)`,
    [keyId],
  );
  return rows[0];
}
