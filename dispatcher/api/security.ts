// Everything the API needs to decide who may do what, built from the config:
// the authenticator (OIDC and shared secrets), the live (reloadable) policy,
// the pull request lookup, and, when the executor offers them, the counts and
// cancellation by label that the concurrency limit and webhooks use.

import { Authenticator } from "../auth/authenticate.js";
import { LiveConfig } from "../config/live-config.js";
import type { Config } from "../config/schema.js";
import { PullRequestOrigins } from "../github/pull-request-origin.js";
import type { BuildCanceller } from "../webhooks/github-webhooks.js";

export interface SecurityDeps {
  live: LiveConfig;
  authenticator: Authenticator;
  pullRequests: PullRequestOrigins;
  /** Unfinished platform builds of a repository; unset: maxConcurrentBuilds is not enforced (local executor). */
  activeJobs?: (repository: string) => Promise<number>;
  /** Finds and cancels builds by label; unset: webhooks are acknowledged but cancel nothing (local executor). */
  canceller?: BuildCanceller;
}

export function securityFor(config: Config, extra: Pick<SecurityDeps, "activeJobs" | "canceller"> & { live?: LiveConfig } = {}): SecurityDeps {
  const live = extra.live ?? new LiveConfig(config);
  const { oidc } = config.auth;
  const authenticator = new Authenticator({
    disabled: config.auth.disabled,
    sharedSecrets: () => live.current.auth.sharedSecrets,
    ...(oidc.audience !== undefined
      ? { oidc: { issuer: oidc.issuer, audience: oidc.audience, clockSkewSeconds: oidc.clockSkewSeconds, ...(oidc.jwksUrl ? { jwksUrl: oidc.jwksUrl } : {}) } }
      : {}),
  });
  const pullRequests = new PullRequestOrigins({
    apiUrl: config.github.apiUrl,
    ...(config.github.token ? { token: config.github.token } : {}),
    ...(config.github.app ? { app: config.github.app } : {}),
  });
  return { live, authenticator, pullRequests, activeJobs: extra.activeJobs, canceller: extra.canceller };
}

/** Whether any credential can be accepted; without one every authenticated route answers 401. */
export function authConfigured(config: Config): boolean {
  return config.auth.disabled || config.auth.oidc.audience !== undefined || config.auth.sharedSecrets.length > 0;
}
