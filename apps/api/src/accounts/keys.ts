import { createHash, randomBytes } from "node:crypto";

/** Every key starts with this, so it is recognisable in configs and secret scanners. */
export const KEY_PREFIX = "agnt_";

/** `agnt_` plus 32 random bytes in base64url (43 characters). */
export const KEY_PATTERN = /^agnt_[A-Za-z0-9_-]{43}$/;

/** A new random API key. */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** The stored form of a key: its SHA-256, hex. Keys carry 256 random bits, so no salt is needed. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** The first characters of a key, kept to help people recognise it. */
export function keyDisplayPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX.length + 6);
}
