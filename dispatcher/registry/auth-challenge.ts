// The registry token handshake (https://distribution.github.io/distribution/spec/auth/token/):
// a 401 answer names, in WWW-Authenticate, either Basic or a Bearer token
// service (realm, service, scope); the client fetches a token there — with the
// docker config's credentials, or anonymously — and repeats the request.

import type { RegistryCredential } from "./docker-config.js";

export interface AuthChallenge {
  readonly scheme: "basic" | "bearer";
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`. */
export function parseChallenge(header: string | null): AuthChallenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== "basic" && scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  // key=value or key="value with , and \" inside"
  const pair = /([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let m = pair.exec(match[2]!); m; m = pair.exec(match[2]!)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
  }
  return { scheme, params };
}

export function basicAuthorization(credential: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
}

export interface Token {
  readonly token: string;
  /** Date.now() after which it is fetched again. */
  readonly expiresAt: number;
}

/**
 * Fetches a Bearer token for `scope` from the challenge's realm. With a
 * refresh token (identitytoken) it uses the OAuth2 POST form, as docker does;
 * otherwise a GET with Basic credentials, or none for anonymous pulls.
 */
export async function fetchToken(
  challenge: AuthChallenge,
  scope: string,
  credential: RegistryCredential | undefined,
  fetchImpl: typeof fetch = fetch,
): Promise<Token> {
  const realm = challenge.params.realm;
  if (!realm) throw new Error("registry asked for a Bearer token but named no realm");
  const service = challenge.params.service;
  let res: Response;
  if (credential?.kind === "refresh-token") {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: credential.refreshToken, client_id: "dockhand", scope });
    if (service) form.set("service", service);
    res = await fetchImpl(realm, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
  } else {
    const url = new URL(realm);
    if (service) url.searchParams.set("service", service);
    url.searchParams.set("scope", scope);
    res = await fetchImpl(url, { headers: credential ? { authorization: basicAuthorization(credential) } : {} });
  }
  if (!res.ok) {
    throw new RegistryAuthError(
      `token service ${new URL(realm).host} refused ${credential ? `the credentials of ${credential.username}` : "anonymous access"} for ${scope}: HTTP ${res.status}`,
    );
  }
  const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
  const token = body.token ?? body.access_token;
  if (!token) throw new RegistryAuthError(`token service ${new URL(realm).host} answered without a token`);
  // The spec's default lifetime is 60 s; renew a little early.
  const seconds = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
  return { token, expiresAt: Date.now() + Math.max(seconds - 10, 5) * 1000 };
}

export class RegistryAuthError extends Error {
  override readonly name = "RegistryAuthError";
}
