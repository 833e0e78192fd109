declare module "vitest" {
  export interface ProvidedContext {
    dbKind: "pglite" | "postgres";
    pgliteSnapshot: string;
    pgTemplate: string;
  }
}

export {};
