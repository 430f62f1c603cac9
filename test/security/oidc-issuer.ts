// A local OpenID Connect issuer standing in for GitHub Actions'
// (token.actions.githubusercontent.com): /.well-known/openid-configuration
// and a JWKS on 127.0.0.1, RS256 keys made with jose, and tokens carrying
// GitHub's claims. Tests mint good tokens and every kind of bad one, and
// rotate the published keys.

import { type CryptoKey, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface TokenOptions {
  /** Claims over GitHub's defaults for a push to refs/heads/main. */
  claims?: Record<string, unknown>;
  audience?: string;
  issuer?: string;
  /** Seconds relative to now. */
  expiresIn?: number;
  notBefore?: number;
  issuedAt?: number;
  /** Sign with this published key (default: the newest). */
  kid?: string;
  /** Sign with a key that is not published, under this kid. */
  foreignKid?: string;
}

export interface LocalIssuer {
  url: string;
  /** Requests for the JWKS so far (rotation means a refetch). */
  jwksFetches(): number;
  token(options?: TokenOptions): Promise<string>;
  /** A token with header alg "none" and no signature. */
  unsignedToken(claims?: Record<string, unknown>): string;
  /** Publishes a new key (and, with dropOld, stops publishing the others); returns its kid. */
  rotate(dropOld?: boolean): Promise<string>;
  close(): Promise<void>;
}

export function githubClaims(repository: string, sha: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const owner = repository.split("/")[0];
  return {
    sub: `repo:${repository}:ref:refs/heads/main`,
    ref: "refs/heads/main",
    sha,
    repository,
    repository_owner: owner,
    repository_owner_id: "9919",
    repository_id: "123456",
    repository_visibility: "private",
    run_id: "9876543210",
    run_number: "42",
    run_attempt: "1",
    actor: "octocat",
    actor_id: "583231",
    workflow: "build",
    workflow_ref: `${repository}/.github/workflows/build.yml@refs/heads/main`,
    workflow_sha: sha,
    head_ref: "",
    base_ref: "",
    event_name: "push",
    ref_type: "branch",
    ref_protected: "true",
    job_workflow_ref: `${repository}/.github/workflows/build.yml@refs/heads/main`,
    runner_environment: "github-hosted",
    ...overrides,
  };
}

async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

export async function startLocalIssuer(defaults: { audience: string; claims: Record<string, unknown> }): Promise<LocalIssuer> {
  let keys: SigningKey[] = [await newKey("key-1")];
  let counter = 1;
  let fetches = 0;
  let url = "";
  const server: Server = createServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ issuer: url, jwks_uri: `${url}/.well-known/jwks`, subject_types_supported: ["public", "pairwise"], response_types_supported: ["id_token"], id_token_signing_alg_values_supported: ["RS256"], claims_supported: Object.keys(defaults.claims) }));
      return;
    }
    if (req.url === "/.well-known/jwks") {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    jwksFetches: () => fetches,
    async token(options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const key = options.foreignKid ? await newKey(options.foreignKid) : (keys.find((k) => k.kid === options.kid) ?? keys.at(-1)!);
      const claims: JWTPayload = { ...defaults.claims, ...options.claims };
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: key.kid })
        .setIssuer(options.issuer ?? url)
        .setAudience(options.audience ?? defaults.audience)
        .setIssuedAt(now + (options.issuedAt ?? 0))
        .setNotBefore(now + (options.notBefore ?? -60))
        .setExpirationTime(now + (options.expiresIn ?? 300))
        .setJti(crypto.randomUUID())
        .sign(key.privateKey);
    },
    unsignedToken(claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
      return `${part({ alg: "none", typ: "JWT" })}.${part({ ...defaults.claims, ...claims, iss: url, aud: defaults.audience, iat: now, nbf: now - 60, exp: now + 300 })}.`;
    },
    async rotate(dropOld = false) {
      const key = await newKey(`key-${++counter}`);
      keys = dropOld ? [key] : [...keys, key];
      return key.kid;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
