import { describe, expect, it, vi } from "vitest";
import { getInputs, InputError, type InputName, listItems, parseInputs } from "./inputs.js";

const workspace = "/home/runner/work/app/app";
const minimal: Partial<Record<InputName, string>> = {
  "dispatcher-url": "https://dockhand.example.com",
  platforms: "windows/amd64:ltsc2022",
};

function parse(raw: Partial<Record<InputName, string>>) {
  return parseInputs((name) => raw[name] ?? "", workspace);
}

function problems(raw: Partial<Record<InputName, string>>): { input: string; message: string }[] {
  try {
    parse({ ...minimal, ...raw });
  } catch (err) {
    if (err instanceof InputError) return err.problems.map((p) => ({ input: p.input, message: p.message }));
    throw err;
  }
  throw new Error("expected an InputError");
}

describe("defaults", () => {
  it("fills every input that is not given, as action.yml documents", () => {
    expect(parse(minimal)).toEqual({
      dispatcherUrl: "https://dockhand.example.com",
      auth: { kind: "oidc", audience: "dockhand" },
      githubToken: undefined,
      contextDir: workspace,
      dockerfile: "Dockerfile",
      dockerfileInWorkspace: "Dockerfile",
      tags: [],
      buildArgs: {},
      labels: {},
      target: undefined,
      push: false,
      platforms: ["windows/amd64:ltsc2022"],
      builder: "auto",
      statusContext: undefined,
      wait: true,
      timeoutSeconds: undefined,
      pull: false,
      noCache: false,
      secrets: {},
      cacheFrom: [],
      cacheTo: [],
      annotations: [],
      provenance: undefined,
      sbom: undefined,
    });
  });
});

describe("every input, parsed", () => {
  const cases: [string, Partial<Record<InputName, string>>, Record<string, unknown>][] = [
    ["dispatcher-url loses its trailing slash", { "dispatcher-url": "https://d.example.com/dockhand/" }, { dispatcherUrl: "https://d.example.com/dockhand" }],
    ["auth secret with its secret", { auth: "secret", secret: "s3cret" }, { auth: { kind: "secret", secret: "s3cret" } }],
    ["audience for OIDC", { audience: "https://dockhand.example.com" }, { auth: { kind: "oidc", audience: "https://dockhand.example.com" } }],
    ["github-token", { "github-token": "ghs_abc123" }, { githubToken: "ghs_abc123" }],
    ["context relative to the workspace", { context: "images/win" }, { contextDir: `${workspace}/images/win`, dockerfile: "Dockerfile", dockerfileInWorkspace: "images/win/Dockerfile" }],
    ["file relative to the workspace, as docker build -f", { context: "images", file: "images/win/Dockerfile" }, { dockerfile: "win/Dockerfile", dockerfileInWorkspace: "images/win/Dockerfile" }],
    ["file with ./", { file: "./Dockerfile.windows" }, { dockerfile: "Dockerfile.windows", dockerfileInWorkspace: "Dockerfile.windows" }],
    ["a context outside the workspace: no path to annotate", { context: "/srv/build" }, { contextDir: "/srv/build", dockerfile: "Dockerfile", dockerfileInWorkspace: undefined }],
    ["tags, comma and newline separated", { tags: "ghcr.io/o/app:1.0, ghcr.io/o/app:latest\nghcr.io/o/app:sha" }, { tags: ["ghcr.io/o/app:1.0", "ghcr.io/o/app:latest", "ghcr.io/o/app:sha"] }],
    ["build-args, one per line, values keep = and ,", { "build-args": "VERSION=1.2\nFLAGS=a=b,c\nEMPTY=" }, { buildArgs: { VERSION: "1.2", FLAGS: "a=b,c", EMPTY: "" } }],
    ["labels", { labels: "org.opencontainers.image.source=https://github.com/o/app\n# a comment\nteam=core" }, { labels: { "org.opencontainers.image.source": "https://github.com/o/app", team: "core" } }],
    ["target", { target: "runtime" }, { target: "runtime" }],
    ["push true", { push: "true", tags: "r.example/a:1" }, { push: true }],
    ["push False", { push: "False" }, { push: false }],
    ["platforms, several", { platforms: "windows/amd64:ltsc2019,windows/amd64:ltsc2022,linux/amd64" }, { platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"] }],
    ["builder", { builder: "buildkit" }, { builder: "buildkit" }],
    ["status-context", { "status-context": "ci/windows" }, { statusContext: "ci/windows" }],
    ["wait false", { wait: "false" }, { wait: false }],
    ["timeout 1h30m", { timeout: "1h30m" }, { timeoutSeconds: 5400 }],
    ["timeout 90s", { timeout: "90s" }, { timeoutSeconds: 90 }],
    ["timeout 0 means none", { timeout: "0" }, { timeoutSeconds: undefined }],
  ];
  it.each(cases)("%s", (_name, raw, expected) => {
    expect(parse({ ...minimal, ...raw })).toMatchObject(expected);
  });
});

describe("every error names its input and says what to write", () => {
  const cases: [string, Partial<Record<InputName, string>>, string, RegExp][] = [
    ["dispatcher-url missing", { "dispatcher-url": "" }, "dispatcher-url", /^dispatcher-url: is required; give the URL/],
    ["dispatcher-url not a URL", { "dispatcher-url": "dockhand.example.com" }, "dispatcher-url", /^dispatcher-url: "dockhand.example.com" is not a URL; write it in full/],
    ["dispatcher-url not http", { "dispatcher-url": "ftp://d.example.com" }, "dispatcher-url", /is not an http\(s\) URL/],
    ["dispatcher-url with a query", { "dispatcher-url": "https://d.example.com/?token=x" }, "dispatcher-url", /has credentials, a query or a fragment/],
    ["auth unknown", { auth: "token" }, "auth", /^auth: "token" is not a way to authenticate; use "oidc" .*id-token: write.* or "secret"/],
    ["secret missing for auth secret", { auth: "secret" }, "secret", /^secret: is empty but auth is "secret"/],
    ["github-token malformed", { "github-token": "ghs abc" }, "github-token", /^github-token: is not a GitHub token/],
    ["file outside the context", { context: "app", file: "Dockerfile" }, "file", /^file: "Dockerfile" is not inside the context "app"/],
    ["file is the context itself", { file: "." }, "file", /^file: "." is not inside the context/],
    ["tag invalid", { tags: "ghcr.io/O/App:1" }, "tags", /^tags\[0\]: "ghcr.io\/O\/App:1" .*; write an image reference like/],
    ["tag with digest", { tags: `r.example/a@sha256:${"a".repeat(64)}` }, "tags", /^tags\[0\]: .* has a digest/],
    ["tag twice", { tags: "r.example/a:1,r.example/a:1" }, "tags", /^tags\[1\]: "r.example\/a:1" is listed twice/],
    ["push without tags", { push: "true" }, "tags", /^tags: is empty but push is true; add at least one tag/],
    ["push not a boolean", { push: "yes", tags: "r.example/a:1" }, "push", /^push: "yes" is not a boolean; use true or false/],
    ["build-arg without =", { "build-args": "VERSION" }, "build-args", /^build-args\[0\]: "VERSION" is not KEY=VALUE/],
    ["build-arg bad name", { "build-args": "1X=2" }, "build-args", /^build-args\[0\]: "1X" is not a build-arg name/],
    ["build-arg reserved", { "build-args": "A=1\nTARGETPLATFORM=x" }, "build-args", /^build-args\[1\]: "TARGETPLATFORM" is set by dockhand/],
    ["build-arg DOCKHAND_", { "build-args": "DOCKHAND_BASE_IMAGE=x" }, "build-args", /is set by dockhand/],
    ["build-arg twice", { "build-args": "A=1\nA=2" }, "build-args", /^build-args\[1\]: "A" is set twice/],
    ["label bad key", { labels: "my label=x" }, "labels", /^labels\[0\]: "my label" is not a label key/],
    ["target bad", { target: "1stage" }, "target", /^target: "1stage" is not a stage name/],
    ["platforms empty", { platforms: "" }, "platforms", /^platforms: is empty; list what to build/],
    ["platform unsupported", { platforms: "linux/amd64,windows/amd64:ltsc2016" }, "platforms", /^platforms\[1\]: "windows\/amd64:ltsc2016" is not supported; use ltsc2019, ltsc2022 or ltsc2025$/],
    ["platform alias", { platforms: "windows/amd64:2022" }, "platforms", /^platforms\[0\]: .* write it as "windows\/amd64:ltsc2022"/],
    ["platform without version", { platforms: "windows/amd64" }, "platforms", /has no Windows version/],
    ["platform twice", { platforms: "linux/amd64,linux/amd64" }, "platforms", /^platforms\[1\]: "linux\/amd64" is listed twice/],
    ["builder unknown", { builder: "kaniko" }, "builder", /^builder: "kaniko" is not a builder; use "auto"/],
    ["status-context bad", { "status-context": "-x" }, "status-context", /^status-context: "-x" is not a usable status context/],
    ["wait not a boolean", { wait: "1" }, "wait", /^wait: "1" is not a boolean/],
    ["timeout without unit", { timeout: "30" }, "timeout", /^timeout: "30" has no unit; write e.g. "30m" \(minutes\)/],
    ["timeout garbage", { timeout: "half an hour" }, "timeout", /^timeout: "half an hour" is not a duration/],
    ["timeout without wait", { wait: "false", timeout: "10m" }, "timeout", /^timeout: is set but wait is false/],
  ];
  it.each(cases)("%s", (_name, raw, input, message) => {
    const found = problems(raw);
    expect(found).toHaveLength(1);
    expect(found[0]!.input).toBe(input);
    expect(found[0]!.message).toMatch(message);
  });

  it("reports every problem at once, each naming its input", () => {
    const found = problems({ "dispatcher-url": "", builder: "x", wait: "maybe" });
    expect(found.map((p) => p.input)).toEqual(["dispatcher-url", "builder", "wait"]);
  });
});

describe("lists", () => {
  it("splits like docker/build-push-action: newlines, commas where allowed, # comments, blanks dropped", () => {
    expect(listItems("a, b\n\n# c\n d ,", true)).toEqual(["a", "b", "d"]);
    expect(listItems("K=a,b\nL=c", false)).toEqual(["K=a,b", "L=c"]);
  });
});

describe("build-push-action's inputs: pull, no-cache, secrets, cache, annotations, attestations", () => {
  const files: Record<string, Buffer> = {
    [`${workspace}/.npmrc`]: Buffer.from("//registry.npmjs.org/:_authToken=npm_s3cr3t\n"),
    [`${workspace}/key.bin`]: Buffer.from([0x00, 0xff, 0xfe]),
  };
  const sources = {
    readFile: (path: string) => {
      const bytes = files[path];
      if (!bytes) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      return bytes;
    },
    env: (name: string) => ({ MY_TOKEN: "env_s3cr3t" })[name],
  };
  const parseWith = (raw: Partial<Record<InputName, string>>) => parseInputs((name) => ({ ...minimal, ...raw })[name] ?? "", workspace, sources);
  const problemsWith = (raw: Partial<Record<InputName, string>>) => {
    try {
      parseWith(raw);
    } catch (err) {
      if (err instanceof InputError) return err.problems.map((p) => ({ input: p.input, message: p.message }));
      throw err;
    }
    throw new Error("expected an InputError");
  };

  it("reads every one, secrets from all three inputs", () => {
    expect(parseWith({
      pull: "true",
      "no-cache": "true",
      secrets: 'GIT_AUTH_TOKEN=ghp_s3cr3t\n"quoted=a ""b"", c"\n# a comment\nspaced=  keeps spaces  ',
      "secret-files": "npmrc=.npmrc",
      "secret-envs": "token=MY_TOKEN",
      "cache-from": "ghcr.io/o/app:cache\ntype=registry,ref=ghcr.io/o/app:main",
      "cache-to": "type=registry,ref=ghcr.io/o/app:cache,mode=max",
      annotations: "manifest:org.opencontainers.image.description=An app, with commas\nindex:org.opencontainers.image.version=1.0",
      provenance: "mode=max",
      sbom: "true",
    })).toMatchObject({
      pull: true,
      noCache: true,
      secrets: { GIT_AUTH_TOKEN: "ghp_s3cr3t", quoted: 'a "b", c', spaced: "  keeps spaces  ", npmrc: "//registry.npmjs.org/:_authToken=npm_s3cr3t\n", token: "env_s3cr3t" },
      cacheFrom: ["ghcr.io/o/app:cache", "type=registry,ref=ghcr.io/o/app:main"],
      cacheTo: ["type=registry,ref=ghcr.io/o/app:cache,mode=max"],
      annotations: ["manifest:org.opencontainers.image.description=An app, with commas", "index:org.opencontainers.image.version=1.0"],
      provenance: "max",
      sbom: { generator: undefined },
    });
  });

  it.each<[string, Partial<Record<InputName, string>>, InputName, string]>([
    ["pull not a boolean", { pull: "always" }, "pull", 'pull: "always" is not a boolean; use true or false'],
    ["no-cache not a boolean", { "no-cache": "yes" }, "no-cache", 'no-cache: "yes" is not a boolean; use true or false'],
    ["a secret without =", { secrets: "ghp_s3cr3t" }, "secrets", "secrets[0]: is not id=value; write one id=value per line"],
    ["a secret id that is no file name", { secrets: "a/b=x" }, "secrets", 'secrets[0]: id "a/b" is not a secret id'],
    ["one id from two inputs", { secrets: "token=x", "secret-envs": "token=MY_TOKEN" }, "secret-envs", 'secret-envs[0]: the secret id "token" is set twice (secrets, secret-files and secret-envs share ids); keep one'],
    ["a secret file that is missing", { "secret-files": "npmrc=missing/.npmrc" }, "secret-files", 'secret-files[0]: cannot read "missing/.npmrc" for the secret "npmrc" (ENOENT)'],
    ["a secret file that is not text", { "secret-files": "key=key.bin" }, "secret-files", 'secret-files[0]: "key.bin" is not UTF-8 text; secrets travel as text, so base64 it first'],
    ["an unset environment variable", { "secret-envs": "token=NOT_SET" }, "secret-envs", 'secret-envs[0]: the environment variable "NOT_SET" for the secret "token" is not set'],
    ["a cache on the runner", { "cache-to": "type=gha,mode=max" }, "cache-to", 'cache-to[0]: "type=gha,mode=max" has type="gha"; dockhand\'s builders run in the cluster'],
    ["a cache-from with a mode", { "cache-from": "type=registry,ref=ghcr.io/o/a:c,mode=max" }, "cache-from", 'cache-from[0]: "type=registry,ref=ghcr.io/o/a:c,mode=max" has "mode", which dockhand does not pass on; use only type, ref'],
    ["an annotation with a platform", { annotations: "manifest[linux/amd64]:k=v" }, "annotations", "annotations[0]:"],
    ["an annotation set twice", { annotations: "k=1\nmanifest:k=2" }, "annotations", "annotations[1]: sets manifest:k again"],
    ["a provenance buildctl has not", { provenance: "mode=full" }, "provenance", 'provenance: "mode=full" is not a provenance setting; use true (mode=min), mode=max, or false'],
    ["an sbom it cannot pass on", { sbom: "yes" }, "sbom", 'sbom: "yes" is not an SBOM setting; use true, generator=<scanner image>, or false'],
    ["a BuildKit option with builder docker", { builder: "docker", "cache-to": "ghcr.io/o/app:cache" }, "cache-to", 'cache-to: needs BuildKit, but builder is "docker"'],
  ])("%s", (_name, raw, input, message) => {
    const found = problemsWith(raw);
    expect(found[0]?.input).toBe(input);
    expect(found[0]?.message).toContain(message);
  });

  it("never prints a secret's value in an error", () => {
    const found = problemsWith({ secrets: `bad id=ghp_s3cr3t\nBIG=${"s3cr3t".repeat(12000)}`, "secret-files": "key=key.bin", "secret-envs": "x" });
    expect(found.length).toBe(4);
    expect(JSON.stringify(found)).not.toContain("s3cr3t");
  });

  it("provenance and sbom false are no BuildKit option, even with builder docker", () => {
    expect(parseWith({ builder: "docker", provenance: "false", sbom: "false" })).toMatchObject({ provenance: undefined, sbom: undefined });
  });
});

describe("getInputs masks every secret before anything is printed", () => {
  it("registers each value, and each line of a multi-line one, with the runner (::add-mask::)", () => {
    const env = {
      "INPUT_DISPATCHER-URL": "https://dockhand.example.com",
      INPUT_PLATFORMS: "linux/amd64",
      INPUT_SECRETS: "token=ghp_one\nempty=",
      "INPUT_SECRET-ENVS": "key=DOCKHAND_TEST_KEY",
      DOCKHAND_TEST_KEY: "-----BEGIN KEY-----\nbWFza2VkLWxpbmU=\n-----END KEY-----",
    };
    const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (printed.push(String(chunk)), true));
    try {
      expect(Object.keys(getInputs().secrets)).toEqual(["token", "empty", "key"]);
    } finally {
      write.mockRestore();
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name]; else process.env[name] = value;
    }
    const masks = printed.join("").split("\n").filter((line) => line.startsWith("::add-mask::"));
    expect(masks).toEqual([
      "::add-mask::ghp_one",
      "::add-mask::-----BEGIN KEY-----%0AbWFza2VkLWxpbmU=%0A-----END KEY-----",
      "::add-mask::-----BEGIN KEY-----",
      "::add-mask::bWFza2VkLWxpbmU=",
      "::add-mask::-----END KEY-----",
    ]);
  });
});
