// The policy decisions, pure: an Identity (who asks, from dispatcher/auth/),
// the request or plan, and the policy from the config in; a grant out, or a
// PolicyDenial naming the rule. Rules are matched first to last; a
// repository no rule matches may not build.

import type { BuildRequest } from "../protocol/build-request.js";
import { windowsPoolBuilders } from "../protocol/request-rules.js";
import type { Config } from "../config/schema.js";
import { type Identity, identityCovers, repositoryMatches, sameRepository } from "../auth/identity.js";
import type { BuildPlan } from "../plan/build-plan.js";
import { PolicyDenial } from "./denial.js";
import { imageUnderPrefix } from "./image-prefix.js";

export type Policy = Config["policy"];

/** Where a pull request's head branch lives, as GitHub answered (github/pull-request-origin.ts asks). */
export type HeadRepository =
  | {
      readonly known: true;
      /** "owner/name", or null when the fork was deleted. */
      readonly headRepository: string | null;
      /** The head commit when GitHub answered (it moves with every push). */
      readonly headSha?: string;
    }
  | { readonly known: false; readonly reason: string };
export type RepositoryRule = Policy["repositories"][number];

export interface MatchedRule {
  readonly index: number;
  /** The rule's config path, e.g. policy.repositories[2]: what denials name. */
  readonly path: string;
  readonly rule: RepositoryRule;
}

export function ruleFor(policy: Policy, repository: string): MatchedRule | undefined {
  const index = policy.repositories.findIndex((rule) => repositoryMatches(rule.repository, repository));
  if (index === -1) return undefined;
  return { index, path: `policy.repositories[${index}]`, rule: policy.repositories[index]! };
}

export interface BuildGrant {
  /** Undefined only when authentication and policy are disabled (auth.disabled). */
  readonly rule: MatchedRule | undefined;
  /** The registry Secret the build's pods mount; null for none. */
  readonly registrySecret: string | null;
}

/** The repository may use the API at all (context uploads): the identity covers it and a rule matches. */
export function authorizeRepository(identity: Identity, repository: string, policy: Policy): MatchedRule | undefined {
  if (identity.kind === "anonymous") return undefined;
  const matched = ruleFor(policy, repository);
  if (!matched) {
    throw new PolicyDenial("policy.repositories", {
      error: `repository: ${repository} may not build on this dispatcher`,
      field: "repository",
      hint: `ask the dispatcher's admin to add a rule for ${repository} (or ${repository.split("/")[0]}/*) to policy.repositories`,
    });
  }
  return matched;
}

/**
 * Who asks against what is asked: an OIDC token binds the request to its own
 * repository, commit and ref; a shared secret to its repositories. Then the
 * repository's rule: tags under its image prefixes, a registry Secret it
 * was granted.
 */
export function authorizeBuildRequest(
  identity: Identity,
  request: BuildRequest,
  policy: Policy,
  defaultRegistrySecret: string | undefined,
  /** For a pull_request token whose sha claim (the test merge commit) is not the request's: GitHub's answer for the pull request. */
  pullRequestHead?: HeadRepository,
): BuildGrant {
  if (identity.kind === "anonymous") return { rule: undefined, registrySecret: request.registrySecret ?? defaultRegistrySecret ?? null };
  if (identity.kind === "oidc") {
    // A pull_request run's sha claim is the test merge commit; its commit
    // statuses belong on the pull request's head, which is what the Action
    // sends. That head is accepted when GitHub says it is this pull
    // request's head now.
    const headOfThisPullRequest = pullRequestHead?.known === true && pullRequestHead.headSha === request.sha && pullRequestOf(identity, identity.ref)?.trigger === "pull_request";
    const claims: [keyof BuildRequest & ("repository" | "sha" | "ref"), string, boolean][] = [
      ["repository", identity.repository, sameRepository(identity.repository, request.repository)],
      ["ref", identity.ref, identity.ref === request.ref],
      ["sha", identity.sha, identity.sha === request.sha || headOfThisPullRequest],
    ];
    for (const [field, claimed, matches] of claims) {
      if (matches) continue;
      throw new PolicyDenial(`oidc.${field}`, {
        error: `${field}: ${JSON.stringify(request[field])} is not the ${field} the OIDC token was issued for (${JSON.stringify(claimed)})${field === "sha" && pullRequestOf(identity, identity.ref) ? " nor the pull request's head" : ""}`,
        field,
        hint: `a workflow's token builds only its own ${field === "repository" ? "repository" : field === "sha" ? "commit (github.sha, or a pull request's head)" : "ref (github.ref)"}; send that`,
      });
    }
  } else if (!identityCovers(identity, request.repository)) {
    throw new PolicyDenial(`auth.sharedSecrets[${identity.name}].repositories`, {
      error: `repository: the shared secret "${identity.name}" may not act for ${request.repository}`,
      field: "repository",
      hint: `use the secret issued for ${request.repository}, or ask the dispatcher's admin to add it to that secret's repositories`,
    });
  }
  const matched = authorizeRepository(identity, request.repository, policy)!;
  const { rule, path } = matched;

  request.tags.forEach((tag, index) => {
    if (imageUnderPrefix(tag, rule.imagePrefixes)) return;
    throw new PolicyDenial(`${path}.imagePrefixes`, {
      error: `tags[${index}]: ${JSON.stringify(tag)} is not under an image prefix ${request.repository} may push to (${rule.imagePrefixes.join(", ") || "none"})`,
      field: `tags[${index}]`,
      hint: rule.imagePrefixes.length > 0 ? `tag under ${rule.imagePrefixes[0]}/…` : `ask the dispatcher's admin to set ${path}.imagePrefixes`,
    });
  });

  const allowed = rule.registrySecrets ?? (defaultRegistrySecret ? [defaultRegistrySecret] : []);
  if (request.registrySecret !== undefined && !allowed.includes(request.registrySecret)) {
    throw new PolicyDenial(`${path}.registrySecrets`, {
      error: `registrySecret: ${JSON.stringify(request.registrySecret)} is not a registry Secret ${request.repository} may use`,
      field: "registrySecret",
      hint: allowed.length > 0 ? `use ${allowed.map((name) => JSON.stringify(name)).join(" or ")}, or leave it out` : "leave it out; no registry Secret is granted to this repository",
    });
  }
  return { rule: matched, registrySecret: request.registrySecret ?? allowed[0] ?? null };
}

const pullRequestEvents = new Set(["pull_request", "pull_request_review", "pull_request_review_comment"]);

export interface PullRequestBuild {
  /** From refs/pull/<n>/…; undefined for pull_request_target (its ref is the base branch). */
  readonly number: number | undefined;
  readonly trigger: "pull_request" | "pull_request_target";
}

/** Whether this build is for a pull request's code, from the token's event or the ref. */
export function pullRequestOf(identity: Identity, ref: string): PullRequestBuild | undefined {
  const number = /^refs\/pull\/([0-9]{1,10})\/(?:merge|head)$/.exec(ref)?.[1];
  if (identity.kind === "oidc" && identity.eventName === "pull_request_target") return { number: number ? Number(number) : undefined, trigger: "pull_request_target" };
  if (number !== undefined) return { number: Number(number), trigger: "pull_request" };
  if (identity.kind === "oidc" && pullRequestEvents.has(identity.eventName)) return { number: undefined, trigger: "pull_request" };
  return undefined;
}

// GitHub never grants id-token: write to a fork's pull_request run in a
// public repository (only private and internal ones can send write tokens to
// forks), so such a token can only come from a same-repository branch.
function sameRepositoryByToken(identity: Identity, pullRequest: PullRequestBuild): boolean {
  return identity.kind === "oidc" && pullRequest.trigger === "pull_request" && identity.repositoryVisibility === "public";
}

/** Whether authorizePullRequest needs GitHub's answer about the pull request's head. */
export function needsHeadLookup(identity: Identity, matched: MatchedRule, pullRequest: PullRequestBuild): boolean {
  return !matched.rule.forkPullRequests && pullRequest.trigger === "pull_request" && pullRequest.number !== undefined && !sameRepositoryByToken(identity, pullRequest);
}

/** Fork pull requests build only where the rule allows them. `head` is GitHub's answer for the pull request. */
export function authorizePullRequest(identity: Identity, matched: MatchedRule, repository: string, pullRequest: PullRequestBuild, head: HeadRepository | undefined): void {
  if (matched.rule.forkPullRequests || sameRepositoryByToken(identity, pullRequest)) return;
  const rule = `${matched.path}.forkPullRequests`;
  const hint = "fork pull requests may run any code on the build pools; a dispatcher admin can allow them with forkPullRequests: true, or build after merging";
  if (pullRequest.trigger === "pull_request_target") {
    throw new PolicyDenial(rule, {
      error: "ref: a pull_request_target run builds a pull request's code with the base repository's identity, and that code may come from a fork",
      field: "ref",
      hint: "build on pull_request instead (same-repository pull requests are allowed), or ask for forkPullRequests: true",
    });
  }
  if (!head?.known) {
    throw new PolicyDenial(rule, {
      error: `ref: cannot confirm that pull request ${pullRequest.number === undefined ? "" : `#${pullRequest.number} `}comes from ${repository} and not a fork${head && !head.known ? ` (${head.reason})` : ""}`,
      field: "ref",
      hint: "give the dispatcher GitHub credentials (github.app or github.token) or send githubToken, so it can look the pull request up",
    });
  }
  if (head.headRepository === null || !sameRepository(head.headRepository, repository)) {
    throw new PolicyDenial(rule, {
      error: `ref: pull request #${pullRequest.number} comes from ${head.headRepository ?? "a deleted fork"}, not ${repository}`,
      field: "ref",
      hint,
    });
  }
}

/** `refs/heads/main` exact, `refs/tags/*` anything below refs/tags/, `*` anything. */
export function refMatches(pattern: string, ref: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("/*")) return ref.startsWith(pattern.slice(0, -1)) && ref.length > pattern.length - 1;
  return pattern === ref;
}

/**
 * The dockerd pool is host-level access (a pod mounting the daemon's pipe
 * is administrator on its Windows node), so only refs or environments a
 * rule names may use it; off by default. BuildKit on the Windows nodes is
 * the same access (its buildkitd runs as SYSTEM and drives the node's
 * containerd), so the same grant covers it.
 */
export function authorizePlacement(identity: Identity, plan: BuildPlan, matched: MatchedRule | undefined): void {
  if (identity.kind === "anonymous" || !matched) return;
  const { dockerPool } = matched.rule;
  const byRef = dockerPool.refs.some((pattern) => refMatches(pattern, plan.ref));
  const byEnvironment = identity.kind === "oidc" && identity.environment !== undefined && dockerPool.environments.includes(identity.environment);
  if (byRef || byEnvironment) return;
  plan.platforms.forEach((platform, index) => {
    if (!windowsPoolBuilders.includes(platform.builder)) return;
    const pool = platform.builder === "docker" ? "the dockerd pool" : "BuildKit on the Windows pool";
    throw new PolicyDenial(`${matched.path}.dockerPool`, {
      error: `platforms[${index}]: ${JSON.stringify(platform.platform.request)} needs ${pool} (${platform.reason}), which ${plan.repository} may not use from ${plan.ref}${identity.kind === "oidc" && identity.environment ? ` or environment ${identity.environment}` : ""}`,
      field: `platforms[${index}]`,
      hint: `the Windows pool (dockerd, or BuildKit there) is host-level access; build from a ref or environment listed in ${matched.path}.dockerPool, or keep Windows stages COPY-only so BuildKit builds them`,
    });
  });
}

/** Seconds a refused build should wait before trying again. */
export const concurrencyRetryAfterSeconds = 30;

/**
 * Per-repository limit on running platform builds. A refused build gets 429
 * with Retry-After; a build that alone exceeds the limit still runs when
 * nothing else of the repository does, so no request waits forever.
 */
export function admitConcurrent(matched: MatchedRule | undefined, repository: string, active: number, platforms: number): void {
  const limit = matched?.rule.maxConcurrentBuilds;
  if (limit === undefined || active === 0 || active + platforms <= limit) return;
  throw new PolicyDenial(
    `${matched!.path}.maxConcurrentBuilds`,
    {
      error: `${repository} has ${active} platform build${active === 1 ? "" : "s"} running; ${platforms} more would pass its limit of ${limit}`,
      field: "repository",
      hint: `retry after ${concurrencyRetryAfterSeconds} s (the Action does, with the same idempotency key)`,
    },
    429,
    concurrencyRetryAfterSeconds,
  );
}
