import { describe, expect, it } from "vitest";
import {
  allowedFrom,
  canTransition,
  EXECUTOR_FAILURE_CODES,
  isTerminal,
  JOB_STATUSES,
  TERMINAL_STATUSES,
  TRANSITIONS,
} from "./lifecycle.ts";

describe("lifecycle", () => {
  it("terminal statuses have no way out", () => {
    for (const status of TERMINAL_STATUSES) {
      expect(TRANSITIONS.filter((t) => t.from === status)).toEqual([]);
      expect(isTerminal(status)).toBe(true);
    }
    expect(JOB_STATUSES.filter((s) => !isTerminal(s))).toEqual(["pending", "accepted", "running"]);
  });

  it("every status is reachable from creation", () => {
    const reached = new Set<string>(["pending"]);
    for (let changed = true; changed; ) {
      changed = false;
      for (const t of TRANSITIONS) {
        if (t.from && reached.has(t.from) && !reached.has(t.to)) {
          reached.add(t.to);
          changed = true;
        }
      }
    }
    expect([...reached].sort()).toEqual([...JOB_STATUSES].sort());
  });

  it("answers the documented transitions", () => {
    expect(allowedFrom("accepted", "executor")).toEqual(["pending"]);
    expect(allowedFrom("running", "executor").sort()).toEqual(["accepted", "running"]);
    expect(allowedFrom("failed", "executor").sort()).toEqual(["accepted", "running"]);
    expect(allowedFrom("completed", "executor")).toEqual(["running"]);
    expect(allowedFrom("canceled", "buyer").sort()).toEqual(["accepted", "pending", "running"]);
    expect(allowedFrom("canceled", "executor")).toEqual([]);
    expect(canTransition("running", "running", "executor")).toBe(true);
    expect(canTransition("pending", "completed", "executor")).toBe(false);
    expect(canTransition("completed", "canceled", "buyer")).toBe(false);
  });

  it("keeps the system's failure codes away from executors", () => {
    expect(EXECUTOR_FAILURE_CODES).not.toContain("expired");
    expect(EXECUTOR_FAILURE_CODES).not.toContain("lease_lost");
    expect(EXECUTOR_FAILURE_CODES).toContain("executor_error");
  });
});
