import { ensureAccount } from "../accounts/service.ts";
import { upsertAgent } from "../agents/service.ts";
import type { Db } from "../db/types.ts";
import { ParamsValidator } from "../jobs/params.ts";
import { CATALOGUE, DEMO_PROVIDER } from "./catalogue.ts";

/**
 * Writes the demo catalogue, owned by the demo provider. Idempotent: agents are matched by
 * slug and only touched when their definition changed.
 */
export async function seed(db: Db): Promise<{ providerAccountId: string; agentIds: string[] }> {
  const validator = new ParamsValidator();
  for (const agent of CATALOGUE) validator.compile(agent.inputSchema);
  return db.transaction(async (tx) => {
    await ensureAccount(tx, DEMO_PROVIDER);
    const agentIds: string[] = [];
    for (const agent of CATALOGUE) {
      agentIds.push(await upsertAgent(tx, { ...agent, ownerAccountId: DEMO_PROVIDER.accountId }));
    }
    return { providerAccountId: DEMO_PROVIDER.accountId, agentIds };
  });
}
