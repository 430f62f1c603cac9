// Who is asking, as authentication established it. Nothing here knows about
// builds: the policy (dispatcher/policy/) takes an Identity and a request and
// decides.

/** A GitHub Actions job, from a verified OIDC token's claims. */
export interface OidcIdentity {
  readonly kind: "oidc";
  /** e.g. "repo:octo-org/app:ref:refs/heads/main". */
  readonly subject: string;
  /** "owner/name" the workflow runs in. */
  readonly repository: string;
  readonly repositoryOwner: string;
  /** public | private | internal, when the token says. */
  readonly repositoryVisibility: string | undefined;
  /** The commit the workflow run is for (GITHUB_SHA). */
  readonly sha: string;
  /** The ref the workflow run is for (GITHUB_REF): refs/heads/…, refs/tags/…, refs/pull/<n>/merge. */
  readonly ref: string;
  /** push, pull_request, pull_request_target, workflow_dispatch, … */
  readonly eventName: string;
  /** The deployment environment the job references, if any. */
  readonly environment: string | undefined;
  readonly runId: string | undefined;
  readonly runAttempt: string | undefined;
  readonly actor: string | undefined;
  readonly workflowRef: string | undefined;
  /** Source and target branch of a pull request run. */
  readonly headRef: string | undefined;
  readonly baseRef: string | undefined;
}

/** A caller holding one of the configured shared secrets. */
export interface SharedSecretIdentity {
  readonly kind: "shared-secret";
  /** The secret's configured name (auth.sharedSecrets[].name), never the secret. */
  readonly name: string;
  /** Repository patterns ("owner/name", "owner/*", "*") the secret may act for. */
  readonly repositories: readonly string[];
}

/** auth.disabled: a loopback-only development dispatcher. */
export interface AnonymousIdentity {
  readonly kind: "anonymous";
}

export type Identity = OidcIdentity | SharedSecretIdentity | AnonymousIdentity;

/** For logs: who, never with a credential. */
export function describeIdentity(identity: Identity): Record<string, string | undefined> {
  switch (identity.kind) {
    case "oidc":
      return { auth: "oidc", repository: identity.repository, ref: identity.ref, event: identity.eventName, runId: identity.runId, actor: identity.actor };
    case "shared-secret":
      return { auth: "shared-secret", secret: identity.name };
    case "anonymous":
      return { auth: "disabled" };
  }
}

/** GitHub repository names compare without regard to case. */
export function sameRepository(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** "owner/name", "owner/*" or "*" against "owner/name", case-insensitively. */
export function repositoryMatches(pattern: string, repository: string): boolean {
  if (pattern === "*") return true;
  const [patternOwner, patternName] = pattern.toLowerCase().split("/");
  const [owner, name] = repository.toLowerCase().split("/");
  return patternOwner === owner && (patternName === "*" || patternName === name);
}

/** Whether the identity may act for this repository at all (before any policy rule). */
export function identityCovers(identity: Identity, repository: string): boolean {
  switch (identity.kind) {
    case "oidc":
      return sameRepository(identity.repository, repository);
    case "shared-secret":
      return identity.repositories.some((pattern) => repositoryMatches(pattern, repository));
    case "anonymous":
      return true;
  }
}
