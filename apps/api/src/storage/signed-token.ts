import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** What a local download token grants: one object, until a time, under a name and type. */
export interface TokenClaims {
  key: string;
  /** Expiry, in Unix seconds. */
  expires: number;
  filename: string;
  contentType: string;
}

function sign(secret: string, payload: string): Buffer {
  return createHmac("sha256", secret).update(payload).digest();
}

/**
 * `base64url(claims).base64url(HMAC-SHA256(secret, that))`. A random nonce makes every token
 * distinct, even two minted in the same second for the same file.
 */
export function createToken(secret: string, claims: TokenClaims): string {
  const payload = Buffer.from(
    JSON.stringify({
      k: claims.key,
      e: claims.expires,
      f: claims.filename,
      t: claims.contentType,
      n: randomBytes(9).toString("base64url"),
    }),
  ).toString("base64url");
  return `${payload}.${sign(secret, payload).toString("base64url")}`;
}

export type TokenCheck =
  | { ok: true; claims: TokenClaims }
  | { ok: false; reason: "invalid" | "expired" };

/** Verifies the signature (in constant time), then the expiry against `nowSeconds`. */
export function verifyToken(secret: string, token: string, nowSeconds: number): TokenCheck {
  const [payload, signature, extra] = token.split(".");
  if (!payload || !signature || extra !== undefined) return { ok: false, reason: "invalid" };
  // Compare the canonical text, so that no other spelling of the same bytes is accepted.
  const expected = Buffer.from(sign(secret, payload).toString("base64url"));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "invalid" };
  }
  let raw: { k?: unknown; e?: unknown; f?: unknown; t?: unknown };
  try {
    raw = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return { ok: false, reason: "invalid" };
  }
  if (
    typeof raw !== "object" ||
    raw === null ||
    typeof raw.k !== "string" ||
    typeof raw.e !== "number" ||
    typeof raw.f !== "string" ||
    typeof raw.t !== "string"
  ) {
    return { ok: false, reason: "invalid" };
  }
  if (raw.e <= nowSeconds) return { ok: false, reason: "expired" };
  return { ok: true, claims: { key: raw.k, expires: raw.e, filename: raw.f, contentType: raw.t } };
}
