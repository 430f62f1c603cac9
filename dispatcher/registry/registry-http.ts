// One authenticated request to a registry's /v2/ API: picks the scheme
// (plain HTTP only for registry.insecureRegistries), answers the 401
// challenge once, and keeps Bearer tokens per (registry, scope) until they
// expire. Readers and the index push build on request().

import { type AuthChallenge, basicAuthorization, fetchToken, parseChallenge, RegistryAuthError, type Token } from "./auth-challenge.js";
import type { RegistryCredential } from "./docker-config.js";

export interface RegistryHttpOptions {
  /** Credentials for a registry host as written in image references (docker.io, ghcr.io, 127.0.0.1:15000). */
  credentials: (host: string) => Promise<RegistryCredential | undefined>;
  /** Where `credentials` reads them, for errors that say what to fix (default: the registry Secret). */
  credentialsSource?: string;
  /** Hosts (host[:port]) spoken to over plain HTTP. */
  insecureRegistries: readonly string[];
  fetch?: typeof fetch;
  /** Per request; the registry is on the reconciler's path. */
  timeoutMs?: number;
}

/** An answer the registry gave with an error code: what went wrong, for a user. */
export class RegistryError extends Error {
  override readonly name = "RegistryError";
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }

  /** 4xx other than 408/429: asking again will not help. */
  get permanent(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

export type Access = "pull" | "pull,push";

export class RegistryHttp {
  private readonly tokens = new Map<string, Token>();
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: RegistryHttpOptions) {
    this.fetchImpl = options.fetch ?? fetch;
  }

  private get credentialsSource(): string {
    return this.options.credentialsSource ?? "the registry Secret";
  }

  /** `docker.io` is an alias; its API lives elsewhere (the docker CLI maps it the same way). */
  baseUrl(host: string): string {
    const apiHost = host === "docker.io" ? "registry-1.docker.io" : host;
    const scheme = this.options.insecureRegistries.includes(host) ? "http" : "https";
    return `${scheme}://${apiHost}/v2/`;
  }

  /**
   * Sends `init` to `<base>/v2/<path>` with the scope's credentials. A 401
   * with a challenge is answered once; a second 401 is an error naming the
   * registry and repository.
   */
  async request(host: string, repository: string, access: Access, path: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(path, this.baseUrl(host)).toString();
    const scope = `repository:${repository}:${access}`;
    const cacheKey = `${host} ${scope}`;
    const cached = this.tokens.get(cacheKey);
    const first = await this.send(url, init, cached && cached.expiresAt > Date.now() ? `Bearer ${cached.token}` : undefined);
    if (first.status !== 401) return first;

    const challenge = parseChallenge(first.headers.get("www-authenticate"));
    await first.body?.cancel();
    if (!challenge) throw new RegistryAuthError(`${host} answered 401 to ${repository} without a WWW-Authenticate challenge`);
    const authorization = await this.authorizationFor(host, challenge, scope, cacheKey);
    const second = await this.send(url, init, authorization);
    if (second.status === 401 || second.status === 403) {
      const credential = await this.options.credentials(host);
      await second.body?.cancel();
      throw new RegistryError(
        `${host} refused ${access} on ${repository} ${credential ? `for ${credential.username}` : `to anonymous access (no credentials for this registry in ${this.credentialsSource})`}: HTTP ${second.status}`,
        second.status,
        "UNAUTHORIZED",
      );
    }
    return second;
  }

  private async authorizationFor(host: string, challenge: AuthChallenge, scope: string, cacheKey: string): Promise<string> {
    const credential = await this.options.credentials(host);
    if (challenge.scheme === "basic") {
      if (credential?.kind !== "basic") throw new RegistryAuthError(`${host} wants Basic credentials and ${this.credentialsSource} has none for it`);
      return basicAuthorization(credential);
    }
    const token = await fetchToken(challenge, scope, credential, this.fetchImpl).catch((err: unknown) => {
      if (credential !== undefined || !(err instanceof RegistryAuthError)) throw err;
      throw new RegistryAuthError(`${err.message} (no credentials for ${host} in ${this.credentialsSource})`);
    });
    this.tokens.set(cacheKey, token);
    return `Bearer ${token.token}`;
  }

  private send(url: string, init: RequestInit, authorization: string | undefined): Promise<Response> {
    const headers = new Headers(init.headers);
    if (authorization) headers.set("authorization", authorization);
    return this.fetchImpl(url, { ...init, headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
  }
}

/** Turns a non-2xx answer into a RegistryError with the registry's own error code and message. */
export async function registryError(res: Response, what: string): Promise<RegistryError> {
  const text = await res.text().catch(() => "");
  let code: string | undefined;
  let detail = text.slice(0, 200);
  try {
    const first = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors?.[0];
    if (first) {
      code = first.code;
      detail = [first.code, first.message].filter(Boolean).join(": ");
    }
  } catch {
    // not the Distribution error body
  }
  return new RegistryError(`${what}: HTTP ${res.status}${detail ? ` ${detail}` : ""}`, res.status, code);
}
