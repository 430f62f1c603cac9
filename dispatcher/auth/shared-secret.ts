// Requests signed with a shared secret (protocol/request-signature.ts: HMAC-SHA256 over
// timestamp, nonce, method, path and the body's sha256, in GitHub's
// X-Hub-Signature-256 format), checked in constant time against each
// configured secret, then refused if the nonce was already used.

import { AuthenticationError } from "./auth-error.js";
import type { SharedSecretIdentity } from "./identity.js";
import { NonceCache } from "./nonce-cache.js";
import { maxClockSkewSeconds, nonceHeader, signatureHeader, verifyRequestSignature } from "../protocol/request-signature.js";

export interface SharedSecret {
  readonly name: string;
  readonly secret: string;
  readonly repositories: readonly string[];
}

export interface SignedRequest {
  readonly method: string;
  /** Exactly as sent: path and query string. */
  readonly pathWithQuery: string;
  readonly headers: Partial<Record<string, string | string[] | undefined>>;
  /** sha256 (hex) of the exact body bytes; of the empty string when there is none. */
  readonly bodySha256Hex: string;
}

const hint = "sign the request with the dispatcher's shared secret (the Action's secret input) just before sending it; a signature is good for one request within 5 minutes";

export class SharedSecretVerifier {
  private readonly nonces: NonceCache;

  constructor(
    private readonly secrets: () => readonly SharedSecret[],
    options: { maxNonces?: number; now?: () => Date } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.nonces = new NonceCache({ windowSeconds: maxClockSkewSeconds, maxEntries: options.maxNonces, now: () => this.now().getTime() });
  }

  private readonly now: () => Date;

  verify(request: SignedRequest): SharedSecretIdentity {
    const secrets = this.secrets();
    if (secrets.length === 0) {
      throw new AuthenticationError("signed requests are not accepted by this dispatcher (no auth.sharedSecrets)", signatureHeader, "authenticate with a GitHub Actions OIDC token instead (the Action's default)");
    }
    const now = this.now();
    let lastReason = "";
    for (const entry of secrets) {
      const verdict = verifyRequestSignature(entry.secret, request.headers, request.method, request.pathWithQuery, request.bodySha256Hex, now);
      if (verdict.valid) {
        const remembered = this.nonces.remember(verdict.nonce, verdict.timestamp);
        if (remembered === "replayed") {
          throw new AuthenticationError(`${nonceHeader} was already used: a signed request is accepted once`, nonceHeader, "send a fresh nonce (16 random bytes, hex) with every request");
        }
        if (remembered === "full") {
          throw new AuthenticationError("too many signed requests in the last 5 minutes to remember their nonces", nonceHeader, "retry in a minute", 503);
        }
        return { kind: "shared-secret", name: entry.name, repositories: entry.repositories };
      }
      // Missing headers, bad format or a stale timestamp are the same for every secret.
      if (!verdict.reason.startsWith("signature does not match")) {
        throw new AuthenticationError(`request signature: ${verdict.reason}`, headerOf(verdict.reason), hint);
      }
      lastReason = verdict.reason;
    }
    throw new AuthenticationError(`request signature: ${lastReason}`, signatureHeader, hint);
  }
}

function headerOf(reason: string): string {
  if (reason.includes("timestamp")) return "x-dockhand-timestamp";
  if (reason.includes(nonceHeader) && !reason.startsWith("missing")) return nonceHeader;
  return signatureHeader;
}
