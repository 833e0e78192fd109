import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll } from "vitest";
import { createKey } from "../src/accounts/service.ts";
import { upsertAgent } from "../src/agents/service.ts";
import { buildApp } from "../src/app.ts";
import type { Db } from "../src/db/types.ts";
import { ChangeFeed } from "../src/events/feed.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { sleep } from "./expect.ts";
import { agentInput, tempLocalStore } from "./harness.ts";

export interface CountedApp {
  app: FastifyInstance;
  database: TestDatabase;
  feed: ChangeFeed;
  /** Every statement the app sent, in order (tests clear it to count from a point on). */
  statements: string[];
  buyerKey: string;
  providerKey: string;
  /** The provider's account (the agent's owner). */
  providerAccountId: string;
  /** An agent of the provider (the test input schema: `language` go, python or typescript). */
  agentId: string;
}

/** A statement that writes: an INSERT or UPDATE, or a WITH with one in it. */
const WRITES = /^\s*(INSERT|UPDATE|WITH\b[\s\S]*\b(INSERT|UPDATE)\b)/;

/**
 * An app on a fresh database whose statements are recorded — the real database, watched —
 * with a buyer, a provider and an agent, for the whole test file. With `writeDelayMs`, every
 * statement that writes (an INSERT, an UPDATE, or a WITH holding one) waits that long first: a
 * slow database, on which calls overlap as under load.
 */
export function useCountedApp(options: { writeDelayMs?: number } = {}): CountedApp {
  const counted = { statements: [] as string[], feed: new ChangeFeed() } as CountedApp;
  beforeAll(async () => {
    const database = await createTestDatabase();
    const db: Db = {
      ...database.db,
      query: async (sql, params, queryOptions) => {
        counted.statements.push(sql.trimStart());
        if (options.writeDelayMs && WRITES.test(sql)) {
          await sleep(options.writeDelayMs);
        }
        return database.db.query(sql, params, queryOptions);
      },
      // Statements inside transactions are recorded too.
      transaction: (fn) =>
        database.db.transaction((tx) =>
          fn({
            ...tx,
            query: (sql, params, queryOptions) => {
              counted.statements.push(sql.trimStart());
              return tx.query(sql, params, queryOptions);
            },
          }),
        ),
    };
    counted.database = database;
    counted.app = await buildApp({
      db,
      store: (await tempLocalStore()).store,
      logLevel: false,
      maintenanceIntervalMs: 0,
      feed: counted.feed,
      validateResponses: true,
    });
    counted.buyerKey = (await createKey(database.db, { role: "buyer", name: "Buyer" })).key;
    const provider = await createKey(database.db, { role: "provider", name: "Provider" });
    counted.providerKey = provider.key;
    counted.providerAccountId = provider.account_id;
    counted.agentId = await upsertAgent(database.db, agentInput(provider.account_id));
  });
  afterAll(async () => {
    await counted.app?.close();
    await counted.database?.drop();
  });
  return counted;
}
