import { canTransition } from "@agnt/contract";
import { describe, expect, it } from "vitest";
import { SWEEPS } from "./sql.ts";

describe("the sweeper's moves", () => {
  it.each(Object.entries(SWEEPS))(
    "%s moves only as the transition table allows the system",
    (_, sweep) => {
      for (const from of sweep.from) {
        for (const to of sweep.to)
          expect(canTransition(from, to, "system"), `${from} → ${to}`).toBe(true);
      }
    },
  );
});
