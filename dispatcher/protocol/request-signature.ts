// Shared-secret request signing, used by the Action (sign) and the dispatcher
// (verify). GitHub's X-Hub-Signature-256 format ("sha256=" + hex HMAC), but
// over more than the body: the timestamp and nonce make a captured request
// useless after a few minutes and useless twice, and method + path stop a
// signature for one route from being replayed against another.

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const signatureHeader = "x-hub-signature-256";
export const timestampHeader = "x-dockhand-timestamp";
export const nonceHeader = "x-dockhand-nonce";

/** How far a request's timestamp may be from the dispatcher's clock. */
export const maxClockSkewSeconds = 300;

export interface SignedHeaders {
  [signatureHeader]: string;
  [timestampHeader]: string;
  [nonceHeader]: string;
}

/**
 * What is signed: timestamp, nonce, method, path (with query) and the sha256
 * of the exact body bytes, one per line. Hashing the body first keeps a
 * large context upload from being held in memory twice.
 */
export function canonicalRequest(timestamp: string, nonce: string, method: string, pathWithQuery: string, bodySha256Hex: string): string {
  return `${timestamp}\n${nonce}\n${method.toUpperCase()}\n${pathWithQuery}\n${bodySha256Hex}`;
}

export function sha256Hex(body: Uint8Array | string): string {
  return createHash("sha256").update(body).digest("hex");
}

export function signRequest(
  secret: string,
  method: string,
  pathWithQuery: string,
  bodySha256Hex: string,
  now: Date = new Date(),
  nonce: string = randomBytes(16).toString("hex"),
): SignedHeaders {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const mac = createHmac("sha256", secret).update(canonicalRequest(timestamp, nonce, method, pathWithQuery, bodySha256Hex)).digest("hex");
  return { [signatureHeader]: `sha256=${mac}`, [timestampHeader]: timestamp, [nonceHeader]: nonce };
}

export type SignatureVerdict =
  | { valid: true; nonce: string; timestamp: number }
  | { valid: false; reason: string };

/** Constant-time check of a signed request. Replay of the nonce is the caller's to refuse (it needs memory). */
export function verifyRequestSignature(
  secret: string,
  headers: Partial<Record<string, string | string[] | undefined>>,
  method: string,
  pathWithQuery: string,
  bodySha256Hex: string,
  now: Date = new Date(),
): SignatureVerdict {
  const one = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const signature = one(signatureHeader);
  const timestamp = one(timestampHeader);
  const nonce = one(nonceHeader);
  if (!signature || !timestamp || !nonce) {
    return { valid: false, reason: `missing ${[!signature && signatureHeader, !timestamp && timestampHeader, !nonce && nonceHeader].filter(Boolean).join(", ")}` };
  }
  if (!/^sha256=[0-9a-f]{64}$/.test(signature)) return { valid: false, reason: `${signatureHeader} is not "sha256=<64 hex digits>"` };
  if (!/^\d{1,12}$/.test(timestamp)) return { valid: false, reason: `${timestampHeader} is not a Unix time in seconds` };
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(nonce)) return { valid: false, reason: `${nonceHeader} must be 16-128 characters of [A-Za-z0-9_-]` };
  const skew = Math.abs(now.getTime() / 1000 - Number(timestamp));
  if (skew > maxClockSkewSeconds) return { valid: false, reason: `timestamp is ${Math.round(skew)} s away from the dispatcher's clock (at most ${maxClockSkewSeconds} s)` };
  const expected = createHmac("sha256", secret).update(canonicalRequest(timestamp, nonce, method, pathWithQuery, bodySha256Hex)).digest();
  const given = Buffer.from(signature.slice("sha256=".length), "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { valid: false, reason: "signature does not match (wrong secret, or the request was changed)" };
  return { valid: true, nonce, timestamp: Number(timestamp) };
}
