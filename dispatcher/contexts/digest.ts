import { ContextError } from "./errors.js";

/** A context digest in canonical form: `sha256:` followed by 64 lowercase hex digits. */
export type ContextDigest = `sha256:${string}`;

const canonicalDigest = /^sha256:[0-9a-f]{64}$/;
const bareHex = /^[0-9a-f]{64}$/;

/**
 * Accepts `sha256:<hex>` (the build request's `context`) or the bare hex (the
 * `{sha256}` segment of `/v1/contexts/{sha256}`) and returns the canonical form.
 */
export function parseContextDigest(value: string): ContextDigest {
  if (canonicalDigest.test(value)) return value as ContextDigest;
  if (bareHex.test(value)) return `sha256:${value}`;
  throw new ContextError(
    "invalid-digest",
    `context digest ${JSON.stringify(truncate(value, 80))} is not sha256:<64 lowercase hex digits>`,
    "send the sha256 of the context tar.gz, e.g. sha256:e3b0c442…",
  );
}

export function digestHex(digest: ContextDigest): string {
  return digest.slice("sha256:".length);
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}
