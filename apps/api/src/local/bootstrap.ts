import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createKey } from "../accounts/service.ts";
import type { Db } from "../db/types.ts";
import { seed } from "../seed/seed.ts";

export const LOCAL_KEYS_FILE = "local-keys.json";

/** True when the embedded database has never been created in this data directory. */
export function isFreshDataDir(pgdataDir: string): boolean {
  return !existsSync(pgdataDir) || readdirSync(pgdataDir).length === 0;
}

/**
 * First start of the embedded marketplace: seeds the demo catalogue and creates one key per
 * role (the provider key belongs to the demo provider), written to `local-keys.json` (mode 0600).
 * Returns the file's path.
 */
export async function bootstrapLocal(db: Db, dataDir: string): Promise<string> {
  const { providerAccountId } = await seed(db);
  const buyer = await createKey(db, { role: "buyer", name: "Local buyer" });
  const provider = await createKey(db, { account_id: providerAccountId, name: "Local executor" });
  const admin = await createKey(db, { role: "admin", name: "Local admin" });
  const file = join(dataDir, LOCAL_KEYS_FILE);
  writeFileSync(
    file,
    `${JSON.stringify({ buyer: buyer.key, provider: provider.key, admin: admin.key }, null, 2)}\n`,
    { mode: 0o600 },
  );
  return file;
}
