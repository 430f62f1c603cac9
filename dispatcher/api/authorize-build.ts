// The authorization steps of POST /v1/builds, in the order the route runs
// them: the request against the identity and policy (before anything is
// read or planned), the pull request's origin (one GitHub lookup, only for
// pull request builds a rule does not open to forks), and the concurrency
// limit (last, just before the Jobs are created). The decisions are the pure
// functions of dispatcher/policy/; this file only fetches what they need.

import type { Identity } from "../auth/identity.js";
import type { Config } from "../config/schema.js";
import type { BuildOrigin } from "../plan/names.js";
import type { PullRequestOrigins } from "../github/pull-request-origin.js";
import { authorizeBuildRequest, authorizePullRequest, type BuildGrant, type HeadRepository, needsHeadLookup, pullRequestOf, ruleFor } from "../policy/repository-policy.js";
import type { BuildRequest } from "../protocol/build-request.js";

export async function authorizeRequest(
  identity: Identity,
  request: BuildRequest,
  config: Config,
  pullRequests: PullRequestOrigins | undefined,
): Promise<BuildGrant> {
  const pullRequest = pullRequestOf(identity, request.ref);
  const lookUp = () => pullRequests!.headRepository(request.repository, pullRequest!.number!, request.githubToken, request.sha);
  // The Action sends a pull request's head, not the merge commit the token names: GitHub says which head is current.
  let head: HeadRepository | undefined;
  if (identity.kind === "oidc" && identity.sha !== request.sha && pullRequest?.trigger === "pull_request" && pullRequest.number !== undefined && pullRequests && ruleFor(config.policy, request.repository)) {
    head = await lookUp();
  }
  const grant = authorizeBuildRequest(identity, request, config.policy, config.registry.secretName, head);
  if (grant.rule && pullRequest) {
    if (!head && needsHeadLookup(identity, grant.rule, pullRequest) && pullRequests) head = await lookUp();
    authorizePullRequest(identity, grant.rule, request.repository, pullRequest, head);
  }
  return grant;
}

/**
 * Labels webhooks cancel by. The pull request number comes from the ref
 * (bound to the token's ref claim for OIDC); the run from the token's claims,
 * or for a shared-secret request from the idempotency key the Action sends
 * ("<runId>/<runAttempt>/<job>/<step>"): a caller could only mislabel its
 * own build, and the worst a wrong label does is get that build cancelled.
 */
export function originOf(identity: Identity, request: BuildRequest): BuildOrigin {
  const pullRequest = /^refs\/pull\/([0-9]{1,10})\//.exec(request.ref)?.[1];
  let runId: string | undefined;
  let runAttempt: string | undefined;
  if (identity.kind === "oidc") {
    runId = identity.runId;
    runAttempt = identity.runAttempt;
  } else {
    const key = /^([0-9]{1,20})\/([0-9]{1,6})\//.exec(request.idempotencyKey ?? "");
    runId = key?.[1];
    runAttempt = key?.[2];
  }
  const digits = (value: string | undefined) => (value !== undefined && /^[0-9]{1,20}$/.test(value) ? value : undefined);
  return {
    ...(pullRequest !== undefined ? { pullRequest: Number(pullRequest) } : {}),
    ...(digits(runId) !== undefined ? { runId: digits(runId) } : {}),
    ...(digits(runAttempt) !== undefined ? { runAttempt: digits(runAttempt) } : {}),
  };
}

/**
 * Serializes count-then-create per repository in this process, so two
 * requests arriving together cannot both see room under the limit. Several
 * replicas each serialize their own requests: between replicas a burst can
 * pass the limit by at most one build per replica.
 */
export class RepositoryGate {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(repository: string, work: () => Promise<T>): Promise<T> {
    const key = repository.toLowerCase();
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
