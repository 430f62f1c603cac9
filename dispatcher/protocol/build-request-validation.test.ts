import { describe, expect, it } from "vitest";
import { RequestError, type RequestProblem } from "./errors.js";
import type { BuildRequest } from "./build-request.js";
import { normalizeDockerfilePath, validateBuildRequest } from "./build-request-validation.js";

const sha = "0123456789abcdef0123456789abcdef01234567";
const context = `sha256:${"e".repeat(64)}`;
const minimal = {
  repository: "octo-org/app",
  sha,
  ref: "refs/heads/main",
  context,
  tags: ["ghcr.io/octo-org/app:1.0"],
  platforms: ["windows/amd64:ltsc2022"],
};

function problemsOf(body: unknown): RequestProblem[] {
  try {
    validateBuildRequest(body);
  } catch (error) {
    if (error instanceof RequestError) {
      expect(error.status).toBe(400);
      expect(error.toBody()).toEqual(error.problems[0]);
      return [...error.problems];
    }
    throw error;
  }
  throw new Error("expected a RequestError");
}

describe("validateBuildRequest accepts", () => {
  it.each<{ name: string; body: Record<string, unknown>; expected: Partial<BuildRequest> }>([
    {
      name: "a minimal request, filling defaults",
      body: minimal,
      expected: {
        file: "Dockerfile", target: undefined, tags: ["ghcr.io/octo-org/app:1.0"], buildArgs: {}, labels: {}, push: true,
        builder: "auto", statusContext: undefined, idempotencyKey: undefined, baseImages: {}, githubToken: undefined,
      },
    },
    {
      name: "a tag without a version as :latest",
      body: { ...minimal, tags: ["app", "127.0.0.1:15000/team/app"] },
      expected: { tags: ["app:latest", "127.0.0.1:15000/team/app:latest"] },
    },
    {
      name: "push false without tags",
      body: { ...minimal, tags: [], push: false },
      expected: { tags: [], push: false },
    },
    {
      name: "a ./ prefix on the Dockerfile path",
      body: { ...minimal, file: "./docker/windows.Dockerfile" },
      expected: { file: "docker/windows.Dockerfile" },
    },
    {
      name: "every optional field",
      body: {
        ...minimal,
        repository: "a/.github",
        ref: "refs/pull/42/merge",
        target: "final-stage",
        buildArgs: { VERSION: "1.2", _X: "" },
        labels: { "org.opencontainers.image.source": "https://github.com/a/.github" },
        platforms: ["windows/amd64:ltsc2022", "linux/amd64"],
        builder: "buildkit",
        statusContext: "ci/images/",
        idempotencyKey: "123/1/build/Build image",
        baseImages: { ltsc2022: "mcr.microsoft.com/windows/servercore:ltsc2022" },
        githubToken: "ghs_abc123",
      },
      expected: {
        repository: "a/.github", ref: "refs/pull/42/merge", target: "final-stage", buildArgs: { VERSION: "1.2", _X: "" },
        platforms: ["windows/amd64:ltsc2022", "linux/amd64"], builder: "buildkit", statusContext: "ci/images",
        idempotencyKey: "123/1/build/Build image", baseImages: { ltsc2022: "mcr.microsoft.com/windows/servercore:ltsc2022" },
        githubToken: "ghs_abc123",
      },
    },
  ])("$name", ({ body, expected }) => {
    expect(validateBuildRequest(body)).toMatchObject(expected);
  });
});

describe("validateBuildRequest rejects", () => {
  it.each<{ name: string; body: unknown; problem: RequestProblem }>([
    {
      name: "a body that is not an object",
      body: [],
      problem: { error: "body: must be a JSON object", field: "body", hint: "send the build request as a JSON object" },
    },
    {
      name: "a missing sha",
      body: { ...minimal, sha: undefined },
      problem: { error: "sha: is required", field: "sha", hint: "send the full 40-character lowercase commit SHA (github.sha)" },
    },
    {
      name: "a short sha",
      body: { ...minimal, sha: "abc123" },
      problem: { error: 'sha: "abc123" is not a 40-character lowercase commit SHA', field: "sha", hint: "send the full 40-character lowercase commit SHA (github.sha)" },
    },
    {
      name: "an unknown field",
      body: { ...minimal, dockerfile: "x" },
      problem: {
        error: "dockerfile: is not a known field", field: "dockerfile",
        hint: "remove it; the fields are repository, sha, ref, context, file, target, tags, buildArgs, labels, push, platforms, builder, statusContext, idempotencyKey, baseImages, registrySecret, pull, noCache, secrets, cacheFrom, cacheTo, annotations, provenance, sbom, githubToken",
      },
    },
    {
      name: "a repository without owner",
      body: { ...minimal, repository: "app" },
      problem: { error: 'repository: "app" is not a GitHub repository', field: "repository", hint: 'send the GitHub repository as "owner/name" (github.repository)' },
    },
    {
      name: 'a repository named ".."',
      body: { ...minimal, repository: "owner/.." },
      problem: { error: 'repository: "owner/.." is not a GitHub repository', field: "repository", hint: 'send the GitHub repository as "owner/name" (github.repository)' },
    },
    {
      name: "a short ref",
      body: { ...minimal, ref: "main" },
      problem: { error: 'ref: "main" is not a branch, tag or pull request ref', field: "ref", hint: 'send a full ref: "refs/heads/main", "refs/tags/v1.0" or "refs/pull/12/merge" (github.ref)' },
    },
    {
      name: "a ref git would refuse",
      body: { ...minimal, ref: "refs/heads/a..b" },
      problem: { error: 'ref: "refs/heads/a..b" contains ".."', field: "ref", hint: 'send a full ref: "refs/heads/main", "refs/tags/v1.0" or "refs/pull/12/merge" (github.ref)' },
    },
    {
      name: "a ref ending in .lock",
      body: { ...minimal, ref: "refs/tags/v1.lock" },
      problem: { error: 'ref: "refs/tags/v1.lock" ends with "/", "." or ".lock"', field: "ref", hint: 'send a full ref: "refs/heads/main", "refs/tags/v1.0" or "refs/pull/12/merge" (github.ref)' },
    },
    {
      name: "a context that is not a digest",
      body: { ...minimal, context: "e".repeat(64) },
      problem: { error: `context: "${"e".repeat(64)}" is not a sha256 digest`, field: "context", hint: "upload the context to PUT /v1/contexts/{sha256} and send its digest as sha256:<64 hex digits>" },
    },
    {
      name: "an unsupported Windows version, with the platform's own hint",
      body: { ...minimal, platforms: ["linux/amd64", "windows/amd64:ltsc2016"] },
      problem: { error: 'platforms[1]: "windows/amd64:ltsc2016" is not supported', field: "platforms[1]", hint: "use ltsc2019, ltsc2022 or ltsc2025" },
    },
    {
      name: "a Windows platform without version",
      body: { ...minimal, platforms: ["windows/amd64"] },
      problem: { error: 'platforms[0]: "windows/amd64" has no Windows version', field: "platforms[0]", hint: 'append the Windows Server version the image runs on: ":ltsc2019", ":ltsc2022" or ":ltsc2025"' },
    },
    {
      name: "a duplicate platform",
      body: { ...minimal, platforms: ["windows/amd64:ltsc2022", "windows/amd64:ltsc2022"] },
      problem: { error: 'platforms[1]: "windows/amd64:ltsc2022" is listed twice', field: "platforms[1]", hint: "remove the duplicate (also at platforms[0])" },
    },
    {
      name: "no platforms",
      body: { ...minimal, platforms: [] },
      problem: { error: "platforms: is empty", field: "platforms", hint: 'list platforms from "linux/amd64", "windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"' },
    },
    {
      name: "push without tags",
      body: { ...minimal, tags: [] },
      problem: { error: "tags: is empty but push is true", field: "tags", hint: "add at least one tag, e.g. ghcr.io/owner/app:1.0, or set push to false" },
    },
    {
      name: "an upper-case tag",
      body: { ...minimal, tags: ["ghcr.io/octo-org/app:1", "ghcr.io/Octo-Org/App:1"] },
      problem: { error: 'tags[1]: "ghcr.io/Octo-Org/App:1" has a repository name that is not lowercase', field: "tags[1]", hint: "give image references like ghcr.io/owner/app:1.0" },
    },
    {
      name: "a tag with a digest",
      body: { ...minimal, tags: [`app@sha256:${"a".repeat(64)}`] },
      problem: { error: `tags[0]: "app@sha256:${"a".repeat(64)}" has a digest; a pushed image is named by a tag`, field: "tags[0]", hint: "remove the @sha256:… part" },
    },
    {
      name: "the same image twice (app = app:latest)",
      body: { ...minimal, tags: ["app:latest", "app"] },
      problem: { error: 'tags[1]: "app" is listed twice', field: "tags[1]", hint: "remove the duplicate (same image as tags[0])" },
    },
    {
      name: "a tag too long for its per-platform suffix",
      body: { ...minimal, platforms: ["linux/amd64", "windows/amd64:ltsc2022"], tags: [`app:${"t".repeat(120)}`] },
      problem: {
        error: `tags[0]: "app:${"t".repeat(76)}…" has a tag too long for per-platform tags (<tag>-<platform> must fit in 128 characters)`,
        field: "tags[0]", hint: "shorten the tag to at most 115 characters",
      },
    },
    {
      name: "a build-arg name with a dash",
      body: { ...minimal, buildArgs: { "MY-ARG": "1" } },
      problem: { error: 'buildArgs["MY-ARG"]: "MY-ARG" is not a valid build-arg name', field: 'buildArgs["MY-ARG"]', hint: "build-arg names are letters, digits and _ (not starting with a digit); values are strings" },
    },
    {
      name: "a build-arg value that is not a string",
      body: { ...minimal, buildArgs: { FOO: 1 } },
      problem: { error: "buildArgs.FOO: must be a string", field: "buildArgs.FOO", hint: "build-arg names are letters, digits and _ (not starting with a digit); values are strings" },
    },
    {
      name: "a build-arg value with a line break",
      body: { ...minimal, buildArgs: { FOO: "1\nRUN evil" } },
      problem: { error: "buildArgs.FOO: contains a line break", field: "buildArgs.FOO", hint: "build-arg values are one line of text: remove it, or put multi-line data in a file in the context" },
    },
    {
      name: "a label value with an escape character",
      body: { ...minimal, labels: { "org.example.note": "a\u001b[2Jb" } },
      problem: { error: 'labels["org.example.note"]: contains a control character (U+001B)', field: 'labels["org.example.note"]', hint: "label values are one line of text: remove it" },
    },
    {
      name: "WINDOWS_VERSION as a build arg",
      body: { ...minimal, buildArgs: { WINDOWS_VERSION: "ltsc2019" } },
      problem: { error: 'buildArgs.WINDOWS_VERSION: "WINDOWS_VERSION" is set by dockhand', field: "buildArgs.WINDOWS_VERSION", hint: "remove it: dockhand sets it per platform (use baseImages to choose a base image per Windows version)" },
    },
    {
      name: "TARGETPLATFORM as a build arg",
      body: { ...minimal, buildArgs: { TARGETPLATFORM: "linux/amd64" } },
      problem: { error: 'buildArgs.TARGETPLATFORM: "TARGETPLATFORM" is set by dockhand', field: "buildArgs.TARGETPLATFORM", hint: "remove it: the builder sets it from the platform" },
    },
    {
      name: "a label key with a space",
      body: { ...minimal, labels: { "my label": "x" } },
      problem: { error: 'labels["my label"]: "my label" is not a valid label key', field: 'labels["my label"]', hint: "label keys are letters, digits, ., _, / and - (e.g. org.opencontainers.image.source); values are strings" },
    },
    {
      name: "an absolute Dockerfile path",
      body: { ...minimal, file: "/etc/passwd" },
      problem: { error: 'file: "/etc/passwd" is absolute', field: "file", hint: 'give the Dockerfile path relative to the context root, e.g. "docker/windows.Dockerfile"' },
    },
    {
      name: "a Dockerfile path leaving the context",
      body: { ...minimal, file: "docker/../../Dockerfile" },
      problem: { error: 'file: "docker/../../Dockerfile" leaves the context with ".."', field: "file", hint: 'give the Dockerfile path relative to the context root, e.g. "docker/windows.Dockerfile"' },
    },
    {
      name: "a Windows-style Dockerfile path",
      body: { ...minimal, file: "docker\\Dockerfile" },
      problem: { error: 'file: "docker\\\\Dockerfile" uses "\\"', field: "file", hint: 'use forward slashes: "docker/Dockerfile"' },
    },
    {
      name: "an unknown builder",
      body: { ...minimal, builder: "kaniko" },
      problem: { error: 'builder: "kaniko" is not a builder', field: "builder", hint: 'use "auto", "docker", "buildkit", or "buildkit-windows"' },
    },
    {
      name: "push that is a string",
      body: { ...minimal, push: "true" },
      problem: { error: "push: must be true or false", field: "push", hint: "send true or false" },
    },
    {
      name: "a base image for a version that is not built",
      body: { ...minimal, baseImages: { ltsc2019: "mcr.microsoft.com/windows/servercore:ltsc2019" } },
      problem: { error: 'baseImages.ltsc2019: is set but platforms does not include "windows/amd64:ltsc2019"', field: "baseImages.ltsc2019", hint: 'remove it or add "windows/amd64:ltsc2019" to platforms' },
    },
    {
      name: "a base image for an unknown version",
      body: { ...minimal, baseImages: { ltsc2016: "x" } },
      problem: { error: "baseImages.ltsc2016: is not a known field", field: "baseImages.ltsc2016", hint: "map a Windows version (ltsc2019, ltsc2022, ltsc2025) to a base image reference" },
    },
    {
      name: "a malformed token, without echoing it",
      body: { ...minimal, githubToken: "ghs_secret value" },
      problem: { error: "githubToken: is not a GitHub token", field: "githubToken", hint: "send the token as issued by GitHub (e.g. github.token)" },
    },
    {
      name: "a target that is not a stage name",
      body: { ...minimal, target: "1st" },
      problem: { error: 'target: "1st" is not a stage name', field: "target", hint: "name a stage from the Dockerfile (FROM … AS <name>): a letter, then letters, digits, _, . or -" },
    },
    {
      name: "too many tags",
      body: { ...minimal, tags: Array.from({ length: 17 }, (_, index) => `app:${index}`) },
      problem: { error: "tags: has 17 entries; at most 16 are allowed", field: "tags", hint: "give image references like ghcr.io/owner/app:1.0" },
    },
  ])("$name", ({ body, problem }) => {
    expect(problemsOf(body)[0]).toEqual(problem);
  });

  it("reports every problem, not just the first", () => {
    const problems = problemsOf({ ...minimal, sha: "x", platforms: ["linux/arm64"], tags: ["A"], buildArgs: { "1X": "" } });
    expect(problems.map((problem) => problem.field)).toEqual(["sha", 'buildArgs["1X"]', "platforms[0]"]);
    const semantic = problemsOf({ ...minimal, tags: ["A", "b@sha256:x"], file: "../Dockerfile" });
    expect(semantic.map((problem) => problem.field)).toEqual(["file", "tags[0]", "tags[1]"]);
  });

  it("never puts the token in an error", () => {
    const token = "ghs_" + "s".repeat(3000);
    const problems = problemsOf({ ...minimal, githubToken: token });
    expect(JSON.stringify(problems)).not.toContain("ghs_");
  });
});

describe("normalizeDockerfilePath", () => {
  it.each([
    { input: "Dockerfile", expected: { ok: true, path: "Dockerfile" } },
    { input: "./Dockerfile", expected: { ok: true, path: "Dockerfile" } },
    { input: "././a/b.Dockerfile", expected: { ok: true, path: "a/b.Dockerfile" } },
    { input: "a/./b", expected: { ok: false, problem: 'has an empty or "." path segment' } },
    { input: "a//b", expected: { ok: false, problem: 'has an empty or "." path segment' } },
    { input: "a/", expected: { ok: false, problem: 'has an empty or "." path segment' } },
    { input: ".", expected: { ok: false, problem: 'has an empty or "." path segment' } },
    { input: "..", expected: { ok: false, problem: 'leaves the context with ".."' } },
    { input: "C:/Dockerfile", expected: { ok: false, problem: "has a drive letter" } },
    { input: "Dockerfile:stream", expected: { ok: false, problem: 'contains a character not allowed in file names (control, :, *, ?, ", <, >, |)' } },
    { input: "-", expected: { ok: false, problem: "would read the Dockerfile from stdin" } },
    { input: "\\\\server\\share\\Dockerfile", expected: { ok: false, problem: 'uses "\\"' } },
  ])("$input", ({ input, expected }) => {
    expect(normalizeDockerfilePath(input)).toMatchObject(expected);
  });
});

describe("build-push-action's options (pull, noCache, secrets, cache, annotations, attestations)", () => {
  it("accepts them all and parses what the planner needs", () => {
    const request = validateBuildRequest({
      ...minimal,
      pull: true,
      noCache: true,
      secrets: { GIT_AUTH_TOKEN: "ghp_s3cr3t", "npmrc": "//registry.npmjs.org/:_authToken=x\nalways-auth=true" },
      cacheFrom: ["ghcr.io/octo-org/app:cache"],
      cacheTo: ["type=registry,ref=ghcr.io/octo-org/app:cache,mode=max"],
      annotations: ["manifest:org.opencontainers.image.description=App, built", "index:org.opencontainers.image.version=1.0"],
      provenance: "max",
      sbom: {},
    });
    expect(request).toMatchObject({
      pull: true,
      noCache: true,
      secrets: { GIT_AUTH_TOKEN: "ghp_s3cr3t", npmrc: "//registry.npmjs.org/:_authToken=x\nalways-auth=true" },
      cacheFrom: [{ ref: "ghcr.io/octo-org/app:cache", attrs: {} }],
      cacheTo: [{ ref: "ghcr.io/octo-org/app:cache", attrs: { mode: "max" } }],
      annotations: [
        { level: "manifest", key: "org.opencontainers.image.description", value: "App, built" },
        { level: "index", key: "org.opencontainers.image.version", value: "1.0" },
      ],
      provenance: "max",
      sbom: { generator: undefined },
    });
  });

  it("defaults to none of them", () => {
    expect(validateBuildRequest(minimal)).toMatchObject({ pull: false, noCache: false, secrets: {}, cacheFrom: [], cacheTo: [], annotations: [], provenance: undefined, sbom: undefined });
  });

  it.each<{ name: string; body: Record<string, unknown>; problem: Partial<RequestProblem> }>([
    { name: "a secret id that is no file name", body: { secrets: { "../x": "v" } }, problem: { field: 'secrets["../x"]', error: 'secrets["../x"]: "../x" is not a secret id' } },
    { name: "a secret id of dots", body: { secrets: { "..": "v" } }, problem: { field: 'secrets[".."]', error: 'secrets[".."]: id ".." is not a secret id: use letters, digits, _, . and - (the id RUN --mount=type=secret,id=… names)' } },
    { name: "a secret of the wrong type", body: { secrets: { A: 1 } }, problem: { field: "secrets.A", error: "secrets.A: must be a string" } },
    { name: "a registry cache of another type", body: { cacheTo: ["type=gha,mode=max"] }, problem: { field: "cacheTo[0]" } },
    { name: "a cache-from with cache-to attributes", body: { cacheFrom: ["type=registry,ref=r.example/a:c,mode=max"] }, problem: { field: "cacheFrom[0]" } },
    { name: "the same annotation twice", body: { annotations: ["k=1", "manifest:k=2"] }, problem: { field: "annotations[1]", error: "annotations[1]: sets manifest:k again" } },
    { name: "an unknown annotation type", body: { annotations: ["blob:k=1"] }, problem: { field: "annotations[0]" } },
    { name: "a provenance mode buildx does not have", body: { provenance: "full" }, problem: { field: "provenance", error: 'provenance: "full" is not a provenance mode' } },
    { name: "an SBOM generator that is no image", body: { sbom: { generator: "Not An Image" } }, problem: { field: "sbom.generator" } },
    { name: "pull as a string", body: { pull: "true" }, problem: { field: "pull", error: "pull: must be true or false" } },
  ])("rejects $name", ({ body, problem }) => {
    expect(problemsOf({ ...minimal, ...body })[0]).toMatchObject(problem);
  });

  it("never puts a secret's value in an error, whatever is wrong with it", () => {
    const value = "s3cr3t-value-" + "x".repeat(70 * 1024);
    const problems = problemsOf({ ...minimal, secrets: { BIG: value, "bad id": "s3cr3t-value-2", WRONG: ["s3cr3t-value-3"] } });
    expect(problems.map((p) => p.field).sort()).toEqual(["secrets.BIG", "secrets.WRONG", 'secrets["bad id"]']);
    expect(JSON.stringify(problems)).not.toContain("s3cr3t-value");
  });

  it("limits the secrets' total size, below the 1 MiB request body", () => {
    const secrets = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`S${i}`, "x".repeat(60 * 1024)]));
    expect(problemsOf({ ...minimal, secrets })[0]).toMatchObject({ field: "secrets", error: "secrets: hold 307200 bytes together; at most 262144 are allowed" });
  });
});
