// The real dispatcher on the real bed with authentication and policy on: a
// local OIDC issuer (oidc-issuer.ts), the GitHub stand-in behind a front
// that answers pull request lookups, a webhook secret, and a policy the test
// chooses and may change and reload.

import pino from "pino";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, bedSharedSecret, freePort, setUpBed, signedFetch } from "../integration/harness.js";
import { type GitHubFront, startGitHubFront } from "./github-front.js";
import { githubClaims, type LocalIssuer, startLocalIssuer } from "./oidc-issuer.js";

export const audience = "dockhand-bed";
export const webhookSecret = "bed-webhook-secret-0123456789abcdef";
export const repository = "octo-org/windows-app";
export const sha = "0123456789abcdef0123456789abcdef01234567";

export interface SecureBed {
  bed: Bed;
  issuer: LocalIssuer;
  github: GitHubFront;
  dispatcher: Dispatcher;
  /** The config file as it is now; change it, then dispatcher.reload(). */
  raw: Record<string, any>;
  /** Names of the Jobs in the namespace now. */
  jobs(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startSecureBed(prefix: string, policy: Record<string, unknown>[], extra: Record<string, unknown> = {}): Promise<SecureBed> {
  const bed = await setUpBed(prefix);
  const issuer = await startLocalIssuer({ audience, claims: githubClaims(repository, sha) });
  const github = await startGitHubFront(bed.github.url);
  const port = await freePort();
  const raw: Record<string, any> = {
    ...bed.rawConfig(port),
    github: { apiUrl: github.url, token: "dispatcher-token" },
    auth: {
      oidc: { issuer: issuer.url, audience },
      sharedSecrets: [{ name: "bed", secret: bedSharedSecret, repositories: ["*"] }],
    },
    webhooks: { secret: webhookSecret },
    policy: { repositories: policy },
    ...extra,
  };
  const dispatcher = await startDispatcher(resolveConfig(raw, {}, "secure-bed"), {
    logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }),
    reloadConfig: async () => resolveConfig(raw, {}, "secure-bed"),
  });
  return {
    bed,
    issuer,
    github,
    dispatcher,
    raw,
    async jobs() {
      const list = await bed.k.batch.listNamespacedJob({ namespace: bed.namespace });
      return list.items.map((j) => j.metadata!.name!).sort();
    },
    async close() {
      await dispatcher.close();
      await github.close();
      await issuer.close();
      await bed.close();
    },
  };
}

/** fetch with an OIDC bearer token (or none). */
export function bearerFetch(url: string, token: string | undefined, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {}): Promise<Response> {
  return fetch(url, {
    method: init.method ?? "GET",
    headers: { ...init.headers, ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    ...(init.body !== undefined ? { body: init.body as BodyInit } : {}),
  });
}

export async function postWithToken(url: string, token: string | undefined, body: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await bearerFetch(`${url}/v1/builds`, token, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

export { signedFetch };
