import type { ApiKeyInfo, CreatedKey, CreateKeyRequest, Role } from "@agnt/contract";
import type { Db, Queryable } from "../db/types.ts";
import { AppError } from "../http/problem.ts";
import type { KeyCache } from "./key-cache.ts";
import { generateKey, hashKey, KEY_PATTERN, keyDisplayPrefix } from "./keys.ts";
import * as sql from "./sql.ts";

/** Who is calling: the account behind the key. */
export interface Principal {
  keyId: string;
  accountId: string;
  role: Role;
  name: string;
}

/**
 * Resolves a key to its account. Malformed, unknown and revoked keys all answer the same 401,
 * so a caller learns nothing about which keys exist.
 */
export async function authenticate(keys: KeyCache, key: string | undefined): Promise<Principal> {
  if (key === undefined) {
    throw new AppError("UNAUTHENTICATED", {
      detail: "No API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
    });
  }
  const row = KEY_PATTERN.test(key) ? await keys.lookup(hashKey(key)) : undefined;
  if (!row)
    throw new AppError("UNAUTHENTICATED", {
      detail: "The API key is malformed, unknown or revoked.",
    });
  return { keyId: row.key_id, accountId: row.account_id, role: row.role, name: row.name };
}

/** Creates an account with its first key, or another key for an existing account. */
export async function createKey(db: Db, request: CreateKeyRequest): Promise<CreatedKey> {
  return db.transaction(async (tx) => {
    let account: sql.AccountRow | undefined;
    if (request.account_id) {
      account = await sql.findAccount(tx, request.account_id);
      if (!account)
        throw new AppError("ACCOUNT_NOT_FOUND", { detail: `No account ${request.account_id}.` });
      if (request.role && request.role !== account.role) {
        throw new AppError("ROLE_MISMATCH", {
          detail: `Account ${account.account_id} is a ${account.role}, not a ${request.role}.`,
        });
      }
    } else {
      account = await sql.insertAccount(tx, { role: request.role as Role, name: request.name });
    }
    const key = generateKey();
    const row = await sql.insertKey(tx, {
      accountId: account.account_id,
      name: request.name,
      hash: hashKey(key),
      prefix: keyDisplayPrefix(key),
    });
    return {
      key,
      key_id: row.key_id,
      account_id: row.account_id,
      role: row.role,
      name: row.name,
      created_at: row.created_at.toISOString(),
    };
  });
}

/**
 * Revokes a key; it stops authenticating at once: in this process right away, in the others
 * when the revocation's notification reaches them (milliseconds).
 */
export async function revokeKey(db: Db, keys: KeyCache, keyId: string): Promise<ApiKeyInfo> {
  const row = await sql.revokeKey(db, keyId);
  if (!row) throw new AppError("KEY_NOT_FOUND", { detail: `No API key ${keyId}.` });
  keys.forget(row.key_hash);
  return {
    key_id: row.key_id,
    account_id: row.account_id,
    role: row.role,
    name: row.name,
    prefix: row.prefix,
    created_at: row.created_at.toISOString(),
    revoked_at: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

/** Ensures an account with a fixed id exists (the demo provider); returns it. */
export function ensureAccount(
  db: Queryable,
  account: { accountId: string; role: Role; name: string },
) {
  return sql.insertAccount(db, account);
}
