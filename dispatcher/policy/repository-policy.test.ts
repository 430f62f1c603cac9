import { describe, expect, it } from "vitest";
import type { Identity, OidcIdentity } from "../auth/identity.js";
import { testConfig, testRequest, sha } from "../plan/test-fixtures.js";
import { planBuild } from "../plan/build-plan.js";
import type { PolicyDenial } from "./denial.js";
import {
  admitConcurrent,
  authorizeBuildRequest,
  authorizePlacement,
  authorizePullRequest,
  needsHeadLookup,
  type Policy,
  pullRequestOf,
  refMatches,
  ruleFor,
} from "./repository-policy.js";

const oidc = (claims: Partial<OidcIdentity> = {}): OidcIdentity => ({
  kind: "oidc",
  subject: "repo:octo-org/app:ref:refs/heads/main",
  repository: "octo-org/app",
  repositoryOwner: "octo-org",
  repositoryVisibility: "private",
  sha,
  ref: "refs/heads/main",
  eventName: "push",
  environment: undefined,
  runId: "100",
  runAttempt: "1",
  actor: "octocat",
  workflowRef: undefined,
  headRef: undefined,
  baseRef: undefined,
  ...claims,
});
const secret = (repositories: string[]): Identity => ({ kind: "shared-secret", name: "ci", repositories });

const policy = (rules: Record<string, unknown>[]): Policy => testConfig({ policy: { repositories: rules } }).policy;
const standard = policy([
  { repository: "octo-org/app", imagePrefixes: ["127.0.0.1:15000/octo-org"], dockerPool: { refs: ["refs/heads/main", "refs/tags/*"], environments: ["release"] }, registrySecrets: ["push-a", "push-b"] },
  { repository: "octo-org/*", imagePrefixes: ["127.0.0.1:15000"] },
]);

function denial(run: () => unknown): Pick<PolicyDenial, "rule" | "field" | "status"> & { error: string } {
  try {
    run();
  } catch (err) {
    const d = err as PolicyDenial;
    return { rule: d.rule, field: d.field, status: d.status, error: d.error };
  }
  throw new Error("expected a denial");
}

describe("authorizeBuildRequest", () => {
  it.each<{ name: string; identity: Identity; request: Record<string, unknown>; rule: string; field: string }>([
    { name: "a token for another repository", identity: oidc({ repository: "octo-org/other" }), request: {}, rule: "oidc.repository", field: "repository" },
    { name: "a token for another commit", identity: oidc({ sha: "f".repeat(40) }), request: {}, rule: "oidc.sha", field: "sha" },
    { name: "a token for another ref", identity: oidc({ ref: "refs/pull/1/merge" }), request: {}, rule: "oidc.ref", field: "ref" },
    { name: "a secret for other repositories", identity: secret(["other/*"]), request: {}, rule: "auth.sharedSecrets[ci].repositories", field: "repository" },
    { name: "a repository no rule names", identity: secret(["*"]), request: { repository: "stranger/app" }, rule: "policy.repositories", field: "repository" },
    { name: "a tag outside the prefixes", identity: oidc(), request: { tags: ["127.0.0.1:15000/octo-org/a:1", "127.0.0.1:15000/else/a:1"] }, rule: "policy.repositories[0].imagePrefixes", field: "tags[1]" },
    { name: "a registry Secret not granted", identity: oidc(), request: { registrySecret: "admin" }, rule: "policy.repositories[0].registrySecrets", field: "registrySecret" },
  ])("denies $name", ({ identity, request, rule, field }) => {
    expect(denial(() => authorizeBuildRequest(identity, testRequest({ repository: "octo-org/app", tags: ["127.0.0.1:15000/octo-org/app:1"], ...request }), standard, undefined))).toMatchObject({ rule, field, status: 403 });
  });

  it("accepts a pull request's head instead of the merge commit its token names, when GitHub says it is the head", () => {
    const head = "b".repeat(40);
    const token = oidc({ eventName: "pull_request", ref: "refs/pull/7/merge" });
    const request = testRequest({ repository: "octo-org/app", ref: "refs/pull/7/merge", sha: head, tags: ["127.0.0.1:15000/octo-org/app:1"] });
    expect(authorizeBuildRequest(token, request, standard, undefined, { known: true, headRepository: "octo-org/app", headSha: head }).rule?.path).toBe("policy.repositories[0]");
    expect(denial(() => authorizeBuildRequest(token, request, standard, undefined, { known: true, headRepository: "octo-org/app", headSha: "c".repeat(40) }))).toMatchObject({ rule: "oidc.sha" });
    expect(denial(() => authorizeBuildRequest(token, request, standard, undefined, undefined))).toMatchObject({ rule: "oidc.sha" });
    const pushToken = oidc();
    const pushRequest = testRequest({ repository: "octo-org/app", sha: head, tags: ["127.0.0.1:15000/octo-org/app:1"] });
    expect(denial(() => authorizeBuildRequest(pushToken, pushRequest, standard, undefined, { known: true, headRepository: "octo-org/app", headSha: head }))).toMatchObject({ rule: "oidc.sha" });
  });

  it.each([
    { name: "the rule's first Secret by default", request: {}, defaultSecret: "global", expected: "push-a" },
    { name: "a Secret the rule lists", request: { registrySecret: "push-b" }, defaultSecret: undefined, expected: "push-b" },
  ])("grants $name", ({ request, defaultSecret, expected }) => {
    const grant = authorizeBuildRequest(oidc(), testRequest({ repository: "octo-org/app", tags: ["127.0.0.1:15000/octo-org/app:1"], ...request }), standard, defaultSecret);
    expect(grant.rule?.path).toBe("policy.repositories[0]");
    expect(grant.registrySecret).toBe(expected);
  });

  it("falls back to registry.secretName for a rule without registrySecrets, and to none without either", () => {
    const request = testRequest({ repository: "octo-org/tool", tags: ["127.0.0.1:15000/x:1"] });
    expect(authorizeBuildRequest(secret(["*"]), request, standard, "global").registrySecret).toBe("global");
    expect(authorizeBuildRequest(secret(["*"]), request, standard, undefined).registrySecret).toBeNull();
  });

  it("matches repositories case-insensitively, first rule first", () => {
    expect(ruleFor(standard, "Octo-Org/App")?.path).toBe("policy.repositories[0]");
    expect(ruleFor(standard, "octo-org/app2")?.path).toBe("policy.repositories[1]");
    expect(ruleFor(standard, "octo/app")).toBeUndefined();
  });
});

describe("pull requests", () => {
  const matched = ruleFor(standard, "octo-org/app")!;
  it.each([
    { identity: oidc({ eventName: "pull_request", ref: "refs/pull/7/merge" }), ref: "refs/pull/7/merge", expected: { number: 7, trigger: "pull_request" } },
    { identity: oidc({ eventName: "pull_request_target" }), ref: "refs/heads/main", expected: { number: undefined, trigger: "pull_request_target" } },
    { identity: secret(["*"]), ref: "refs/pull/9/head", expected: { number: 9, trigger: "pull_request" } },
    { identity: oidc(), ref: "refs/heads/main", expected: undefined },
  ])("pullRequestOf($ref)", ({ identity, ref, expected }) => {
    expect(pullRequestOf(identity, ref)).toEqual(expected);
  });

  it.each([
    { name: "a fork's head", head: { known: true as const, headRepository: "evil/app" }, error: /comes from evil\/app/ },
    { name: "a deleted fork", head: { known: true as const, headRepository: null }, error: /comes from a deleted fork/ },
    { name: "no answer from GitHub", head: { known: false as const, reason: "GitHub answered 404" }, error: /cannot confirm .*GitHub answered 404/ },
  ])("refuses $name", ({ head, error }) => {
    const d = denial(() => authorizePullRequest(oidc(), matched, "octo-org/app", { number: 7, trigger: "pull_request" }, head));
    expect(d).toMatchObject({ rule: "policy.repositories[0].forkPullRequests", field: "ref" });
    expect(d.error).toMatch(error);
  });

  it("allows the repository's own branches, public repositories' tokens without a lookup, and forks where the rule says so", () => {
    expect(() => authorizePullRequest(oidc(), matched, "octo-org/app", { number: 7, trigger: "pull_request" }, { known: true, headRepository: "Octo-Org/App" })).not.toThrow();
    const publicToken = oidc({ repositoryVisibility: "public", eventName: "pull_request" });
    expect(needsHeadLookup(publicToken, matched, { number: 7, trigger: "pull_request" })).toBe(false);
    expect(() => authorizePullRequest(publicToken, matched, "octo-org/app", { number: 7, trigger: "pull_request" }, undefined)).not.toThrow();
    const open = ruleFor(policy([{ repository: "*", forkPullRequests: true }]), "octo-org/app")!;
    expect(() => authorizePullRequest(oidc(), open, "octo-org/app", { number: undefined, trigger: "pull_request_target" }, undefined)).not.toThrow();
    expect(denial(() => authorizePullRequest(oidc(), matched, "octo-org/app", { number: undefined, trigger: "pull_request_target" }, undefined)).error).toMatch(/pull_request_target/);
  });
});

describe("the dockerd pool", () => {
  it.each([
    { pattern: "refs/heads/main", ref: "refs/heads/main", matches: true },
    { pattern: "refs/heads/main", ref: "refs/heads/main2", matches: false },
    { pattern: "refs/tags/*", ref: "refs/tags/v1/rc", matches: true },
    { pattern: "refs/tags/*", ref: "refs/tags/", matches: false },
    { pattern: "refs/tags/*", ref: "refs/tagsx/v1", matches: false },
    { pattern: "*", ref: "refs/pull/1/merge", matches: true },
  ])("$pattern matches $ref: $matches", ({ pattern, ref, matches }) => {
    expect(refMatches(pattern, ref)).toBe(matches);
  });

  const windowsRun = "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN echo hi\n";
  const plan = (ref: string) =>
    planBuild({ request: testRequest({ repository: "octo-org/app", ref, platforms: ["linux/amd64", "windows/amd64:ltsc2022"], tags: ["127.0.0.1:15000/octo-org/app:1"] }), config: testConfig(), dockerfile: `ARG WINDOWS_VERSION\n${windowsRun}`, buildId: "abcdefghijkl", contextUrl: "http://x/c" });

  it.each([
    { name: "a listed branch", identity: oidc(), ref: "refs/heads/main", allowed: true },
    { name: "a listed tag pattern", identity: oidc({ ref: "refs/tags/v1" }), ref: "refs/tags/v1", allowed: true },
    { name: "a listed environment", identity: oidc({ ref: "refs/heads/x", environment: "release" }), ref: "refs/heads/x", allowed: true },
    { name: "an unlisted branch", identity: oidc({ ref: "refs/heads/x" }), ref: "refs/heads/x", allowed: false },
    { name: "an environment from a shared secret's word", identity: secret(["*"]), ref: "refs/heads/x", allowed: false },
  ])("$name: $allowed", ({ identity, ref, allowed }) => {
    const run = () => authorizePlacement(identity, plan(ref), ruleFor(standard, "octo-org/app"));
    if (allowed) expect(run).not.toThrow();
    else expect(denial(run)).toMatchObject({ rule: "policy.repositories[0].dockerPool", field: "platforms[1]" });
  });

  it("gates BuildKit on the Windows pool as the dockerd pool: the same host-level access, the same grant", () => {
    const config = testConfig({ buildkitWindows: { versions: ["ltsc2022"] } });
    const onWindowsBuildKit = (ref: string) =>
      planBuild({ request: testRequest({ repository: "octo-org/app", ref, platforms: ["windows/amd64:ltsc2022"], tags: ["127.0.0.1:15000/octo-org/app:1"] }), config, dockerfile: `ARG WINDOWS_VERSION\n${windowsRun}`, buildId: "abcdefghijkl", contextUrl: "http://x/c" });
    expect(onWindowsBuildKit("refs/heads/x").platforms[0]!.builder).toBe("buildkit-windows");
    expect(() => authorizePlacement(oidc(), onWindowsBuildKit("refs/heads/main"), ruleFor(standard, "octo-org/app"))).not.toThrow();
    expect(denial(() => authorizePlacement(oidc({ ref: "refs/heads/x" }), onWindowsBuildKit("refs/heads/x"), ruleFor(standard, "octo-org/app")))).toMatchObject({
      rule: "policy.repositories[0].dockerPool",
      field: "platforms[0]",
      error: 'platforms[0]: "windows/amd64:ltsc2022" needs BuildKit on the Windows pool (windows stage #0 has RUN (line 3): BuildKit on the Windows pool), which octo-org/app may not use from refs/heads/x (rule policy.repositories[0].dockerPool)',
    });
  });

  it("has nothing to say about BuildKit-only builds, whatever the ref", () => {
    const copyOnly = planBuild({ request: testRequest({ repository: "octo-org/app", ref: "refs/heads/x", platforms: ["linux/amd64"], tags: ["127.0.0.1:15000/octo-org/app:1"] }), config: testConfig(), dockerfile: "FROM busybox\nRUN true\n", buildId: "abcdefghijkl", contextUrl: "http://x/c" });
    expect(() => authorizePlacement(oidc({ ref: "refs/heads/x" }), copyOnly, ruleFor(standard, "octo-org/app"))).not.toThrow();
  });
});

describe("concurrency", () => {
  const limited = ruleFor(policy([{ repository: "*", maxConcurrentBuilds: 2 }]), "octo-org/app");
  it.each([
    { active: 0, platforms: 3, admitted: true },
    { active: 1, platforms: 1, admitted: true },
    { active: 1, platforms: 2, admitted: false },
    { active: 2, platforms: 1, admitted: false },
  ])("$active running + $platforms new under a limit of 2: $admitted", ({ active, platforms, admitted }) => {
    const run = () => admitConcurrent(limited, "octo-org/app", active, platforms);
    if (admitted) expect(run).not.toThrow();
    else expect(denial(run)).toMatchObject({ status: 429, rule: "policy.repositories[0].maxConcurrentBuilds" });
  });

  it("has no limit when the rule sets none", () => {
    expect(() => admitConcurrent(ruleFor(standard, "octo-org/app"), "octo-org/app", 100, 4)).not.toThrow();
  });
});
