// How the Action proves who it is to the dispatcher: headers per request.
// OIDC: a GitHub Actions ID token for the configured audience
// (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect).
// Shared secret: the signature headers of dispatcher/protocol/request-signature.ts,
// the same module the dispatcher verifies with.

import * as core from "@actions/core";
import { signRequest } from "../dispatcher/protocol/request-signature.js";
import type { Auth } from "./inputs.js";

export interface RequestAuth {
  /** Headers for one request; `bodySha256Hex` is the sha256 of the exact body bytes ("" hashed for none). */
  headers(method: string, pathWithQuery: string, bodySha256Hex: string): Promise<Record<string, string>>;
}

export class AuthError extends Error {
  override readonly name = "AuthError";
}

export interface OidcDeps {
  env: NodeJS.ProcessEnv;
  getIDToken: (audience: string) => Promise<string>;
  now: () => number;
}

// A token is reused while it has this much life left; GitHub's last about 5 minutes.
const refreshBeforeExpiryMs = 60_000;

export function oidcAuth(audience: string, deps: OidcDeps = { env: process.env, getIDToken: (aud) => core.getIDToken(aud), now: Date.now }): RequestAuth {
  let cached: { token: string; expiresAt: number } | undefined;
  return {
    async headers() {
      if (cached && cached.expiresAt - refreshBeforeExpiryMs > deps.now()) return { authorization: `Bearer ${cached.token}` };
      // The runner only offers the token endpoint to jobs granted id-token: write.
      if (!deps.env["ACTIONS_ID_TOKEN_REQUEST_URL"] || !deps.env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]) {
        throw new AuthError(
          "auth: this job cannot request a GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set); add `permissions: id-token: write` to the workflow or the job, or use auth: secret with a shared secret",
        );
      }
      let token: string;
      try {
        token = await deps.getIDToken(audience);
      } catch (err) {
        throw new AuthError(`auth: GitHub refused an OIDC token for audience ${JSON.stringify(audience)}: ${err instanceof Error ? err.message : String(err)}`);
      }
      cached = { token, expiresAt: jwtExpiry(token) ?? deps.now() + refreshBeforeExpiryMs * 2 };
      return { authorization: `Bearer ${token}` };
    },
  };
}

export function secretAuth(secret: string): RequestAuth {
  return {
    async headers(method, pathWithQuery, bodySha256Hex) {
      return { ...signRequest(secret, method, pathWithQuery, bodySha256Hex) };
    },
  };
}

export function requestAuth(auth: Auth): RequestAuth {
  return auth.kind === "oidc" ? oidcAuth(auth.audience) : secretAuth(auth.secret);
}

/** The token's `exp` in ms; only to know when to fetch a new one, never trusted for anything else. */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
