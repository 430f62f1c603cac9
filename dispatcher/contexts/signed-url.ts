import { createHmac, timingSafeEqual } from "node:crypto";
import { digestHex, parseContextDigest, type ContextDigest } from "./digest.js";

// A signed URL lets a build pod fetch its context without credentials: the
// signature binds build id, digest and expiry, so a URL leaked from one build's
// logs fetches nothing else, and stops working after `expires`.

// Build ids are DNS labels (see the shared design); anything else in a URL is forged or corrupt.
const buildIdPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface SignContextUrlInput {
  /** The dispatcher's externally reachable base URL, e.g. https://dockhand.example.com. */
  publicUrl: string;
  digest: string;
  buildId: string;
  expiresAt: Date;
  key: string | Buffer;
}

/** `${publicUrl}/v1/contexts/<hex>/download?build=<buildId>&expires=<unix>&sig=<base64url hmac>` */
export function signContextUrl(input: SignContextUrlInput): string {
  if (!buildIdPattern.test(input.buildId)) throw new Error(`build id ${JSON.stringify(input.buildId)} is not a DNS label`);
  const digest = parseContextDigest(input.digest);
  const expires = Math.floor(input.expiresAt.getTime() / 1000);
  const url = new URL(`v1/contexts/${digestHex(digest)}/download`, withTrailingSlash(input.publicUrl));
  url.searchParams.set("build", input.buildId);
  url.searchParams.set("expires", String(expires));
  url.searchParams.set("sig", signature(input.key, input.buildId, digest, expires).toString("base64url"));
  return url.toString();
}

export interface VerifyContextUrlInput {
  /** The `{sha256}` path segment (hex, or sha256:<hex>). */
  digest: string;
  /** The query parameters as received; any may be missing. */
  build: string | undefined;
  expires: string | undefined;
  sig: string | undefined;
  key: string | Buffer;
  now?: Date;
}

export type ContextUrlVerdict =
  | { valid: true; buildId: string; digest: ContextDigest; expiresAt: Date }
  | { valid: false; reason: "malformed" | "expired" | "bad-signature" };

export function verifyContextUrl(input: VerifyContextUrlInput): ContextUrlVerdict {
  const { build, expires, sig } = input;
  if (!build || !buildIdPattern.test(build) || !expires || !/^[0-9]{1,12}$/.test(expires) || !sig || !/^[A-Za-z0-9_-]+$/.test(sig)) {
    return { valid: false, reason: "malformed" };
  }
  let digest: ContextDigest;
  try {
    digest = parseContextDigest(input.digest);
  } catch {
    return { valid: false, reason: "malformed" };
  }
  const expiresUnix = Number(expires);
  const expected = signature(input.key, build, digest, expiresUnix);
  const given = Buffer.from(sig, "base64url");
  // timingSafeEqual throws on length mismatch; the length of an HMAC is public.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { valid: false, reason: "bad-signature" };
  }
  // Checked after the signature so an attacker learns nothing about expiry of URLs it forged.
  const now = input.now ?? new Date();
  if (now.getTime() >= expiresUnix * 1000) return { valid: false, reason: "expired" };
  return { valid: true, buildId: build, digest, expiresAt: new Date(expiresUnix * 1000) };
}

function signature(key: string | Buffer, buildId: string, digest: ContextDigest, expires: number): Buffer {
  if (key.length === 0) throw new Error("context URL signing key is empty");
  // Newline-separated with a version tag: no field can contain a newline
  // (build ids are DNS labels, digests hex, expiry digits), so no two inputs
  // produce the same message.
  return createHmac("sha256", key).update(`dockhand-context-url-v1\n${buildId}\n${digest}\n${expires}`).digest();
}

function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
