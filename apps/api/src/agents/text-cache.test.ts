import { describe, expect, it } from "vitest";
import { useCountedApp } from "../../test/counted-app.ts";

/** A repeated search costs one statement: the normalized text is remembered. */
describe("search texts, remembered", () => {
  const env = useCountedApp();
  const search = (q: string) =>
    env.app.inject({
      method: "GET",
      url: `/v1/agents/search?q=${encodeURIComponent(q)}`,
      headers: { authorization: `Bearer ${env.buyerKey}` },
    });

  it("normalizes a text once; later searches for it run only the page statement", async () => {
    const first = await search("Refactoring parsers");
    expect(first.statusCode, first.body).toBe(200);
    env.statements.length = 0;
    const again = await search("Refactoring parsers");
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(env.statements.filter((s) => s.includes("to_tsquery"))).toEqual([]);
    expect(env.statements).toHaveLength(1);
    // Another text is normalized in its turn.
    env.statements.length = 0;
    expect((await search("migrations")).statusCode).toBe(200);
    expect(env.statements.filter((s) => s.includes("to_tsquery"))).toHaveLength(1);
  });

  it("a text with no trigram (its window of newest agents moves) is remembered too, briefly", async () => {
    expect((await search("go")).statusCode).toBe(200);
    env.statements.length = 0;
    expect((await search("go")).statusCode).toBe(200);
    expect(env.statements).toHaveLength(1);
  });
});
