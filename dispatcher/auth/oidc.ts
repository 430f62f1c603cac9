// GitHub Actions OIDC tokens, verified with jose: signature against the
// issuer's published keys (fetched once, cached, refetched when a token names
// a key id the cache lacks: that is how GitHub's key rotation arrives), then
// iss, aud, exp, nbf and iat with a small clock skew. Only RS256 is accepted,
// the algorithm GitHub (and GitHub Enterprise Server) sign with; "none" and
// HMAC algorithms never reach a key.

import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from "jose";
import { AuthenticationError } from "./auth-error.js";
import type { OidcIdentity } from "./identity.js";

export interface OidcOptions {
  /** https://token.actions.githubusercontent.com, or https://HOST/_services/token for GHES. */
  issuer: string;
  audience: string;
  /** Overrides discovery through <issuer>/.well-known/openid-configuration. */
  jwksUrl?: string;
  clockSkewSeconds: number;
  /** Tests: how long to wait before refetching keys for an unknown kid (jose's default 30 s). */
  cooldownMs?: number;
  now?: () => Date;
}

const header = "authorization";
const repositoryClaim = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?\/[A-Za-z0-9._-]{1,100}$/;
// GitHub's tokens live minutes; a token issued longer ago than this is not one of them.
const maxTokenAgeSeconds = 3600;

type Keys = ReturnType<typeof createRemoteJWKSet>;

export class OidcVerifier {
  private keys: Promise<Keys> | undefined;
  private readonly issuer: string;

  constructor(private readonly options: OidcOptions) {
    this.issuer = options.issuer.replace(/\/+$/, "");
  }

  /** Verifies a bearer token; throws AuthenticationError naming what is wrong. */
  async verify(token: string): Promise<OidcIdentity> {
    const keys = await this.jwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: this.issuer,
        audience: this.options.audience,
        algorithms: ["RS256"],
        clockTolerance: this.options.clockSkewSeconds,
        maxTokenAge: maxTokenAgeSeconds,
        requiredClaims: ["exp", "iat", "nbf", "repository", "sha", "ref", "event_name"],
        ...(this.options.now ? { currentDate: this.options.now() } : {}),
      }));
    } catch (err) {
      throw this.describe(err);
    }
    return identityFrom(payload);
  }

  private jwks(): Promise<Keys> {
    this.keys ??= this.discover().catch((err) => {
      this.keys = undefined; // try discovery again on the next request
      throw err;
    });
    return this.keys;
  }

  private async discover(): Promise<Keys> {
    const options = { cooldownDuration: this.options.cooldownMs ?? 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 };
    if (this.options.jwksUrl) return createRemoteJWKSet(new URL(this.options.jwksUrl), options);
    const url = `${this.issuer}/.well-known/openid-configuration`;
    let document: { issuer?: unknown; jwks_uri?: unknown };
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000), headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      document = (await res.json()) as typeof document;
    } catch (err) {
      throw new AuthenticationError(`cannot read the OIDC issuer's configuration at ${url}: ${(err as Error).message}`, header, "retry; if it persists, check auth.oidc.issuer and that the dispatcher reaches it", 503);
    }
    // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it was fetched for.
    if (String(document.issuer ?? "").replace(/\/+$/, "") !== this.issuer || typeof document.jwks_uri !== "string") {
      throw new AuthenticationError(`the OIDC configuration at ${url} is for issuer ${JSON.stringify(document.issuer)} or has no jwks_uri`, header, "check auth.oidc.issuer", 503);
    }
    return createRemoteJWKSet(new URL(document.jwks_uri), options);
  }

  private describe(err: unknown): AuthenticationError {
    const fix = (what: string) => new AuthenticationError(`OIDC token: ${what}`, header, hintFor(what, this.options.audience));
    if (err instanceof AuthenticationError) return err;
    if (err instanceof errors.JWTExpired) {
      return fix(err.claim === "iat" ? `was issued more than ${maxTokenAgeSeconds} s ago` : "has expired");
    }
    if (err instanceof errors.JWTClaimValidationFailed) {
      switch (err.claim) {
        case "aud":
          return fix(`audience is not ${JSON.stringify(this.options.audience)}`);
        case "iss":
          return fix(`issuer is not ${this.issuer}`);
        case "nbf":
          return fix("is not valid yet (nbf is in the future)");
        case "iat":
          return fix(err.reason === "missing" ? "has no iat claim" : "was issued in the future (iat)");
        default:
          return fix(`claim ${err.claim} is ${err.reason === "missing" ? "missing" : "invalid"}`);
      }
    }
    if (err instanceof errors.JOSEAlgNotAllowed) return fix("is not signed with RS256");
    if (err instanceof errors.JWKSNoMatchingKey) return fix("is signed with a key the issuer does not publish (unknown kid)");
    if (err instanceof errors.JWSSignatureVerificationFailed) return fix("signature does not verify");
    if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
      return new AuthenticationError(`cannot read the OIDC issuer's signing keys: ${err.message}`, header, "retry; if it persists, check auth.oidc.issuer / auth.oidc.jwksUrl", 503);
    }
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) return fix("is not a well-formed signed JWT");
    if (err instanceof TypeError || (err as { code?: string })?.code === "ECONNREFUSED") {
      return new AuthenticationError("cannot read the OIDC issuer's signing keys", header, "retry; if it persists, check auth.oidc.issuer / auth.oidc.jwksUrl", 503);
    }
    return fix("cannot be verified");
  }
}

function hintFor(what: string, audience: string): string {
  if (what.startsWith("audience")) return `request the token with audience ${JSON.stringify(audience)} (the Action's audience input)`;
  if (what.includes("expired") || what.includes("issued")) return "request a fresh token right before calling the dispatcher (the Action does)";
  return "send a GitHub Actions OIDC token (core.getIDToken) as Authorization: Bearer <token>; the workflow needs permissions: id-token: write";
}

function claim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function identityFrom(payload: JWTPayload): OidcIdentity {
  const repository = claim(payload, "repository") ?? "";
  const sha = claim(payload, "sha") ?? "";
  const ref = claim(payload, "ref") ?? "";
  const invalid = (what: string) => new AuthenticationError(`OIDC token: claim ${what}`, header, "send a GitHub Actions OIDC token");
  if (!repositoryClaim.test(repository)) throw invalid("repository is not owner/name");
  if (!/^[0-9a-f]{40}$/.test(sha)) throw invalid("sha is not a commit SHA");
  if (!ref.startsWith("refs/")) throw invalid("ref is not a full ref");
  return {
    kind: "oidc",
    subject: claim(payload, "sub") ?? "",
    repository,
    repositoryOwner: claim(payload, "repository_owner") ?? repository.split("/")[0]!,
    repositoryVisibility: claim(payload, "repository_visibility"),
    sha,
    ref,
    eventName: claim(payload, "event_name") ?? "",
    environment: claim(payload, "environment"),
    runId: claim(payload, "run_id"),
    runAttempt: claim(payload, "run_attempt"),
    actor: claim(payload, "actor"),
    workflowRef: claim(payload, "workflow_ref"),
    headRef: claim(payload, "head_ref"),
    baseRef: claim(payload, "base_ref"),
  };
}
