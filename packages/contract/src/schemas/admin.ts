import { z } from "zod";
import { isStorableText, Timestamp, Uuid } from "./common.ts";

export const ROLES = ["buyer", "provider", "admin"] as const;
export const RoleSchema = z.enum(ROLES).meta({ id: "Role" });
export type Role = z.infer<typeof RoleSchema>;

export const CreateKeyRequest = z
  .strictObject({
    role: RoleSchema.optional().describe(
      "Role of the new account. Required unless account_id is given.",
    ),
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(isStorableText, "must not contain NUL characters or unpaired surrogates")
      .describe("Name of the account (or of the key, for an existing account)."),
    account_id: Uuid.optional().describe(
      "Give an existing account another key instead of creating an account.",
    ),
  })
  .refine((body) => body.role !== undefined || body.account_id !== undefined, {
    path: ["role"],
    message: "role is required unless account_id is given",
  })
  .meta({ id: "CreateKeyRequest" });
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;

export const CreatedKey = z
  .object({
    key: z.string().describe("The API key. Shown once: only its hash is stored."),
    key_id: Uuid,
    account_id: Uuid,
    role: RoleSchema,
    name: z.string(),
    created_at: Timestamp,
  })
  .meta({ id: "CreatedKey" });
export type CreatedKey = z.infer<typeof CreatedKey>;

export const KeyIdParams = z.strictObject({ key_id: Uuid });

export const ApiKeyInfo = z
  .object({
    key_id: Uuid,
    account_id: Uuid,
    role: RoleSchema,
    name: z.string(),
    prefix: z.string().describe("The key's first characters, to recognise it."),
    created_at: Timestamp,
    revoked_at: Timestamp.nullable(),
  })
  .meta({ id: "ApiKeyInfo" });
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const Health = z.object({ status: z.literal("ok") }).meta({ id: "Health" });
export const Ready = z
  .object({ status: z.literal("ok"), database: z.literal("ok") })
  .meta({ id: "Ready" });
