// Every input of the Action, read once into one typed object. Parsing is pure
// (parseInputs takes the raw strings), so the tests cover every input and
// every error without a runner; getInputs is the only place that calls
// core.getInput. Every error starts with the input's name, says what is
// wrong and what to write instead (docs/style.md §4).

import * as core from "@actions/core";
import { readFileSync } from "node:fs";
import { isAbsolute, posix, relative, resolve, sep } from "node:path";
import {
  type BuilderPreference,
  buildArgNamePattern,
  builderPreferences,
  githubTokenPattern,
  isReservedBuildArg,
  labelKeyPattern,
  maxStatusContextLength,
  stageNamePattern,
  statusContextPattern,
} from "../dispatcher/protocol/request-rules.js";
import { RequestError } from "../dispatcher/protocol/errors.js";
import { formatImageReference, parseImageReference } from "../dispatcher/protocol/image-reference.js";
import { parsePlatform, supportedPlatforms, type PlatformString } from "../dispatcher/protocol/platforms.js";
import {
  maxAnnotations,
  maxCacheEntries,
  maxSecretBytes,
  maxSecrets,
  maxSecretsTotalBytes,
  parseAnnotation,
  parseCacheEntry,
  parseProvenance,
  parseSbom,
  type ProvenanceMode,
  type SbomSetting,
  secretIdProblem,
  utf8Length,
} from "../dispatcher/protocol/build-options.js";

/** Names as in action.yml; where docker/build-push-action has the same input, the same name. */
export const inputNames = [
  "dispatcher-url",
  "auth",
  "audience",
  "secret",
  "github-token",
  "context",
  "file",
  "tags",
  "build-args",
  "labels",
  "target",
  "push",
  "platforms",
  "builder",
  "status-context",
  "wait",
  "timeout",
  "pull",
  "no-cache",
  "secrets",
  "secret-files",
  "secret-envs",
  "cache-from",
  "cache-to",
  "annotations",
  "provenance",
  "sbom",
] as const;
export type InputName = (typeof inputNames)[number];

export type Auth = { readonly kind: "oidc"; readonly audience: string } | { readonly kind: "secret"; readonly secret: string };

export interface Inputs {
  /** Without a trailing slash. */
  readonly dispatcherUrl: string;
  readonly auth: Auth;
  readonly githubToken: string | undefined;
  /** Absolute path of the context directory. */
  readonly contextDir: string;
  /** The Dockerfile, relative to the context, forward slashes. */
  readonly dockerfile: string;
  /**
   * The Dockerfile relative to the workspace, forward slashes: the path an
   * annotation names so a pull request's Files view shows it. Undefined when
   * the file lies outside the workspace (the runner could not show it).
   */
  readonly dockerfileInWorkspace: string | undefined;
  readonly tags: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly target: string | undefined;
  readonly push: boolean;
  readonly platforms: readonly PlatformString[];
  readonly builder: BuilderPreference;
  readonly statusContext: string | undefined;
  readonly wait: boolean;
  /** Undefined: wait as long as the job lets the step run. */
  readonly timeoutSeconds: number | undefined;
  readonly pull: boolean;
  readonly noCache: boolean;
  /** BuildKit secrets, id → value, from secrets, secret-files and secret-envs together. */
  readonly secrets: Readonly<Record<string, string>>;
  /** As written (the dispatcher parses them with the same rules). */
  readonly cacheFrom: readonly string[];
  readonly cacheTo: readonly string[];
  readonly annotations: readonly string[];
  readonly provenance: ProvenanceMode | undefined;
  readonly sbom: SbomSetting | undefined;
}

/** Where secret-files and secret-envs are read from; the real file system and environment unless a test says otherwise. */
export interface SecretSources {
  readFile(path: string): Buffer;
  env(name: string): string | undefined;
}

const realSecretSources: SecretSources = { readFile: (path) => readFileSync(path), env: (name) => process.env[name] };

export interface InputProblem {
  readonly input: InputName;
  /** `platforms[1]: "windows/amd64:ltsc2016" is not supported; use ltsc2019, ltsc2022 or ltsc2025` */
  readonly message: string;
}

/** All the problems found in one pass, so a workflow is fixed in one edit, not one per input. */
export class InputError extends Error {
  override readonly name = "InputError";
  constructor(readonly problems: readonly InputProblem[]) {
    super(problems.map((p) => p.message).join("\n"));
  }
  get input(): InputName {
    return (this.problems[0] as InputProblem).input;
  }
}

// The same limits the dispatcher enforces (dispatcher/protocol/request-rules.ts),
// checked here so a mistake is reported before a large context is uploaded.
const stageName = new RegExp(stageNamePattern);
const buildArgName = new RegExp(buildArgNamePattern);
const labelKey = new RegExp(labelKeyPattern);
const statusContextFormat = new RegExp(statusContextPattern);
const githubTokenFormat = new RegExp(githubTokenPattern);

/**
 * Parses the raw input strings (as core.getInput returns them: trimmed, ""
 * when unset). `workspace` is where relative `context` and `file` paths start,
 * as for `docker build` run in the checkout.
 */
export function parseInputs(raw: (name: InputName) => string, workspace: string, secretSources: SecretSources = realSecretSources): Inputs {
  const problems: InputProblem[] = [];
  const fail = (input: InputName, message: string) => problems.push({ input, message });
  const get = (name: InputName) => raw(name).trim();

  const dispatcherUrl = parseDispatcherUrl(get("dispatcher-url"), fail);

  const authKind = get("auth") || "oidc";
  const audience = get("audience") || "dockhand";
  const secret = raw("secret");
  let auth: Auth = { kind: "oidc", audience };
  if (authKind === "secret") {
    if (secret === "") fail("secret", 'secret: is empty but auth is "secret"; pass the shared secret, e.g. secret: ${{ secrets.DOCKHAND_SECRET }}');
    auth = { kind: "secret", secret };
  } else if (authKind !== "oidc") {
    fail("auth", `auth: ${quote(authKind)} is not a way to authenticate; use "oidc" (GitHub's OIDC token, needs permissions: id-token: write) or "secret"`);
  }

  const githubToken = get("github-token") || undefined;
  if (githubToken !== undefined && !githubTokenFormat.test(githubToken)) {
    fail("github-token", "github-token: is not a GitHub token; pass it as issued, e.g. github-token: ${{ github.token }}");
  }

  const contextInput = get("context") || ".";
  const contextDir = resolve(workspace, contextInput);
  const fileInput = get("file");
  const fileAbs = fileInput === "" ? resolve(contextDir, "Dockerfile") : resolve(workspace, fileInput);
  const fromContext = relative(contextDir, fileAbs);
  let dockerfile = fromContext.split(sep).join("/");
  if (fromContext === "" || fromContext === ".." || fromContext.startsWith(`..${sep}`) || isAbsolute(fromContext)) {
    fail(
      "file",
      `file: ${quote(fileInput)} is not inside the context ${quote(contextInput)}; the dispatcher reads the Dockerfile from the uploaded context, so move it into ${quote(contextInput)} or set context to a directory that contains it`,
    );
    dockerfile = "Dockerfile";
  } else {
    dockerfile = posix.normalize(dockerfile);
  }
  const fromWorkspace = relative(workspace, fileAbs);
  const dockerfileInWorkspace = fromWorkspace === ".." || fromWorkspace.startsWith(`..${sep}`) || isAbsolute(fromWorkspace) ? undefined : fromWorkspace.split(sep).join("/");

  const push = parseBoolean("push", get("push"), false, fail);

  const tags: string[] = [];
  listItems(get("tags"), true).forEach((tag, index) => {
    const parsed = parseImageReference(tag);
    if (!parsed.ok) {
      fail("tags", `tags[${index}]: ${quote(tag)} ${parsed.problem}; write an image reference like ghcr.io/owner/app:1.0`);
    } else if (parsed.reference.digest !== undefined) {
      fail("tags", `tags[${index}]: ${quote(tag)} has a digest; a pushed image is named by a tag: remove the @sha256:… part`);
    } else if (tags.includes(formatImageReference(parsed.reference))) {
      fail("tags", `tags[${index}]: ${quote(tag)} is listed twice; remove the duplicate`);
    } else {
      tags.push(formatImageReference(parsed.reference));
    }
  });
  if (push && listItems(get("tags"), true).length === 0) {
    fail("tags", "tags: is empty but push is true; add at least one tag, e.g. ghcr.io/owner/app:1.0, or set push: false");
  }

  const buildArgs = parseKeyValues("build-args", get("build-args"), fail, (name) => {
    if (!buildArgName.test(name)) return `${quote(name)} is not a build-arg name; use letters, digits and _ (not starting with a digit)`;
    if (isReservedBuildArg(name)) {
      return `${quote(name)} is set by dockhand per platform; remove it`;
    }
    return undefined;
  });
  const labels = parseKeyValues("labels", get("labels"), fail, (key) =>
    labelKey.test(key) ? undefined : `${quote(key)} is not a label key; use letters, digits, ., _, / and -, e.g. org.opencontainers.image.source`,
  );

  const target = get("target") || undefined;
  if (target !== undefined && !stageName.test(target)) {
    fail("target", `target: ${quote(target)} is not a stage name; name a stage from the Dockerfile (FROM … AS <name>): a letter, then letters, digits, _, . or -`);
  }

  const platforms: PlatformString[] = [];
  const platformItems = listItems(get("platforms"), true);
  if (platformItems.length === 0) {
    fail("platforms", `platforms: is empty; list what to build, e.g. platforms: windows/amd64:ltsc2022,linux/amd64 (supported: ${supportedPlatforms.join(", ")})`);
  }
  platformItems.forEach((item, index) => {
    try {
      const platform = parsePlatform(item, `platforms[${index}]`).request;
      if (platforms.includes(platform)) fail("platforms", `platforms[${index}]: ${quote(item)} is listed twice; remove the duplicate`);
      else platforms.push(platform);
    } catch (err) {
      if (!(err instanceof RequestError)) throw err;
      fail("platforms", `${err.error}; ${err.hint}`);
    }
  });

  const builderInput = get("builder") || "auto";
  if (!(builderPreferences as readonly string[]).includes(builderInput)) {
    fail("builder", `builder: ${quote(builderInput)} is not a builder; use "auto" (Windows RUN → the Windows pool, otherwise BuildKit), "docker", "buildkit" or "buildkit-windows"`);
  }

  const statusContext = get("status-context") || undefined;
  if (statusContext !== undefined && (!statusContextFormat.test(statusContext) || statusContext.length > maxStatusContextLength)) {
    fail("status-context", `status-context: ${quote(statusContext)} is not a usable status context; use a short prefix like "dockhand" (letters, digits, space, ., _, / and -; at most ${maxStatusContextLength} characters)`);
  }

  const wait = parseBoolean("wait", get("wait"), true, fail);
  const timeoutSeconds = parseTimeout(get("timeout"), fail);
  if (!wait && timeoutSeconds !== undefined) {
    fail("timeout", "timeout: is set but wait is false; the step returns as soon as the build is accepted, so remove timeout or set wait: true");
  }

  const buildOptions = parseBuildOptions(get, raw, workspace, secretSources, fail);
  if (builderInput === "docker") {
    // The classic builder has none of these; the dispatcher would refuse them (plan/buildkit-only-options.ts).
    const buildkitOnly = (["secrets", "secret-files", "secret-envs", "cache-from", "cache-to", "annotations", "provenance", "sbom"] as const).find((name) => get(name) !== "" && !(name === "provenance" || name === "sbom" ? /^false$/i.test(get(name)) : false));
    if (buildkitOnly !== undefined) {
      fail(buildkitOnly, `${buildkitOnly}: needs BuildKit, but builder is "docker" (the dockerd pool's classic builder has no secrets, registry cache, annotations or attestations); set builder: auto or buildkit, or remove ${buildkitOnly}`);
    }
  }

  if (problems.length > 0) throw new InputError(problems);
  return {
    dispatcherUrl,
    auth,
    githubToken,
    contextDir,
    dockerfile,
    dockerfileInWorkspace,
    tags,
    buildArgs,
    labels,
    target,
    push,
    platforms,
    builder: builderInput as BuilderPreference,
    statusContext,
    wait,
    timeoutSeconds,
    ...buildOptions,
  };
}

type BuildOptions = Pick<Inputs, "pull" | "noCache" | "secrets" | "cacheFrom" | "cacheTo" | "annotations" | "provenance" | "sbom">;

/** The inputs named as in docker/build-push-action: pull, no-cache, secrets*, cache-from/-to, annotations, provenance, sbom. */
function parseBuildOptions(get: (name: InputName) => string, raw: (name: InputName) => string, workspace: string, sources: SecretSources, fail: Fail): BuildOptions {
  const pull = parseBoolean("pull", get("pull"), false, fail);
  const noCache = parseBoolean("no-cache", get("no-cache"), false, fail);

  const secrets: Record<string, string> = {};
  const addSecret = (input: InputName, index: number, id: string, value: string) => {
    const idProblem = secretIdProblem(id);
    if (idProblem) return fail(input, `${input}[${index}]: id ${quote(id)} ${idProblem}`);
    if (Object.hasOwn(secrets, id)) return fail(input, `${input}[${index}]: the secret id ${quote(id)} is set twice (secrets, secret-files and secret-envs share ids); keep one`);
    // Never quote a secret's value: the message is printed.
    if (utf8Length(value) > maxSecretBytes) return fail(input, `${input}[${index}]: the secret ${quote(id)} is larger than ${maxSecretBytes / 1024} KiB; pass a smaller secret, e.g. a token rather than a whole keystore`);
    secrets[id] = value;
  };
  // Not trimmed, as build-push-action reads secrets: a value may end in spaces.
  secretLines(raw("secrets")).forEach((line, index) => {
    const equals = line.indexOf("=");
    if (equals <= 0) return fail("secrets", `secrets[${index}]: is not id=value; write one id=value per line, e.g. GIT_AUTH_TOKEN=\${{ secrets.MY_TOKEN }}`);
    addSecret("secrets", index, line.slice(0, equals).trim(), line.slice(equals + 1));
  });
  listItems(get("secret-files"), false).forEach((line, index) => {
    const equals = line.indexOf("=");
    if (equals <= 0) return fail("secret-files", `secret-files[${index}]: ${quote(line)} is not id=path; write one id=path per line, e.g. npmrc=\${{ runner.temp }}/.npmrc`);
    const id = line.slice(0, equals).trim();
    const path = unquote(line.slice(equals + 1).trim());
    let bytes: Buffer;
    try {
      bytes = sources.readFile(resolve(workspace, path));
    } catch (err) {
      return fail("secret-files", `secret-files[${index}]: cannot read ${quote(path)} for the secret ${quote(id)} (${(err as NodeJS.ErrnoException).code ?? String(err)}); give a file path relative to the workspace that an earlier step wrote`);
    }
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    if (text.includes("\uFFFD") || bytes.includes(0)) {
      return fail("secret-files", `secret-files[${index}]: ${quote(path)} is not UTF-8 text; secrets travel as text, so base64 it first and decode it in the RUN step`);
    }
    addSecret("secret-files", index, id, text);
  });
  listItems(get("secret-envs"), true).forEach((item, index) => {
    const equals = item.indexOf("=");
    if (equals <= 0) return fail("secret-envs", `secret-envs[${index}]: ${quote(item)} is not id=ENV_NAME; write e.g. secret-envs: MY_SECRET=MY_ENV_VAR and set MY_ENV_VAR in the step's env`);
    const id = item.slice(0, equals).trim();
    const name = item.slice(equals + 1).trim();
    const value = sources.env(name);
    if (value === undefined) return fail("secret-envs", `secret-envs[${index}]: the environment variable ${quote(name)} for the secret ${quote(id)} is not set; set it in the step's env: block`);
    addSecret("secret-envs", index, id, value);
  });
  const secretCount = Object.keys(secrets).length;
  if (secretCount > maxSecrets) fail("secrets", `secrets: ${secretCount} secrets in all (secrets, secret-files, secret-envs); at most ${maxSecrets}`);
  const secretBytes = Object.values(secrets).reduce((sum, value) => sum + utf8Length(value), 0);
  if (secretBytes > maxSecretsTotalBytes) fail("secrets", `secrets: ${Math.ceil(secretBytes / 1024)} KiB in all (secrets, secret-files, secret-envs); at most ${maxSecretsTotalBytes / 1024} KiB`);

  const cacheEntries = (input: "cache-from" | "cache-to") => {
    const items = listItems(get(input), false);
    if (items.length > maxCacheEntries) fail(input, `${input}: ${items.length} entries; at most ${maxCacheEntries}`);
    items.forEach((item, index) => {
      const parsed = parseCacheEntry(item, input === "cache-from" ? "from" : "to");
      if (!parsed.ok) fail(input, `${input}[${index}]: ${quote(item)} ${parsed.problem}; ${parsed.hint}`);
    });
    return items;
  };
  const cacheFrom = cacheEntries("cache-from");
  const cacheTo = cacheEntries("cache-to");

  const annotations = listItems(get("annotations"), false);
  if (annotations.length > maxAnnotations) fail("annotations", `annotations: ${annotations.length} entries; at most ${maxAnnotations}`);
  const seen = new Set<string>();
  annotations.forEach((item, index) => {
    const parsed = parseAnnotation(item);
    if (!parsed.ok) return fail("annotations", `annotations[${index}]: ${quote(item)} ${parsed.problem}; ${parsed.hint}`);
    const key = `${parsed.annotation.level}:${parsed.annotation.key}`;
    if (seen.has(key)) fail("annotations", `annotations[${index}]: sets ${key} again; keep one line per key and type`);
    seen.add(key);
  });

  const provenance = parseProvenance(get("provenance"));
  if (!provenance.ok) fail("provenance", `provenance: ${provenance.problem}; ${provenance.hint}`);
  const sbom = parseSbom(get("sbom"));
  if (!sbom.ok) fail("sbom", `sbom: ${sbom.problem}; ${sbom.hint}`);

  return {
    pull,
    noCache,
    secrets,
    cacheFrom,
    cacheTo,
    annotations,
    provenance: provenance.ok ? provenance.value : undefined,
    sbom: sbom.ok ? sbom.value : undefined,
  };
}

/**
 * The lines of the secrets input, untrimmed except for the line break. A line
 * wrapped in double quotes is unwrapped (doubled quotes inside become one), as
 * build-push-action's CSV reading does: its README writes "github_token=…".
 */
function secretLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "" && !line.trim().startsWith("#"))
    .map((line) => unquote(line.trim().startsWith('"') ? line.trim() : line));
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1).replaceAll('""', '"') : value;
}

/** Reads the inputs from the runner (INPUT_* variables) and masks the secrets in the log. */
export function getInputs(): Inputs {
  const inputs = parseInputs((name) => core.getInput(name), process.env["GITHUB_WORKSPACE"] || process.cwd());
  if (inputs.auth.kind === "secret") core.setSecret(inputs.auth.secret);
  if (inputs.githubToken !== undefined) core.setSecret(inputs.githubToken);
  // Before anything is printed: the runner masks each registered value in the log.
  for (const value of Object.values(inputs.secrets)) {
    if (value.trim() === "") continue;
    core.setSecret(value);
    // A multi-line value is also masked line by line: build output may print one line of it.
    for (const line of value.split(/\r?\n/)) if (line.trim() !== "" && line !== value) core.setSecret(line);
  }
  return inputs;
}

type Fail = (input: InputName, message: string) => void;

function parseDispatcherUrl(value: string, fail: Fail): string {
  if (value === "") {
    fail("dispatcher-url", "dispatcher-url: is required; give the URL your dispatcher is reached at, e.g. https://dockhand.example.com");
    return "";
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail("dispatcher-url", `dispatcher-url: ${quote(value)} is not a URL; write it in full, e.g. https://dockhand.example.com`);
    return "";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    fail("dispatcher-url", `dispatcher-url: ${quote(value)} is not an http(s) URL; use https://…`);
  } else if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    fail("dispatcher-url", `dispatcher-url: ${quote(value)} has credentials, a query or a fragment; give only scheme, host, port and path`);
  }
  return url.toString().replace(/\/+$/, "");
}

// core.getBooleanInput's accepted spellings (YAML 1.2 core schema); anything
// else is an error rather than silently false.
function parseBoolean(input: InputName, value: string, fallback: boolean, fail: Fail): boolean {
  if (value === "") return fallback;
  if (["true", "True", "TRUE"].includes(value)) return true;
  if (["false", "False", "FALSE"].includes(value)) return false;
  fail(input, `${input}: ${quote(value)} is not a boolean; use true or false`);
  return fallback;
}

/**
 * One item per line and, where `commas`, per comma — as docker/build-push-action
 * reads `tags` and `platforms` (newline-separated `build-args` and `labels`
 * keep their commas: a value may contain one). Lines starting with # are comments.
 */
export function listItems(value: string, commas: boolean): string[] {
  return value
    .split(/\r?\n/)
    .filter((line) => !line.trim().startsWith("#"))
    .flatMap((line) => (commas ? line.split(",") : [line]))
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function parseKeyValues(
  input: "build-args" | "labels",
  value: string,
  fail: Fail,
  keyProblem: (key: string) => string | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  listItems(value, false).forEach((line, index) => {
    const equals = line.indexOf("=");
    if (equals <= 0) {
      fail(input, `${input}[${index}]: ${quote(line)} is not KEY=VALUE; write one KEY=VALUE per line`);
      return;
    }
    const key = line.slice(0, equals).trim();
    const problem = keyProblem(key);
    if (problem !== undefined) {
      fail(input, `${input}[${index}]: ${problem}`);
      return;
    }
    if (Object.hasOwn(result, key)) {
      fail(input, `${input}[${index}]: ${quote(key)} is set twice; keep one line per key`);
      return;
    }
    result[key] = line.slice(equals + 1);
  });
  return result;
}

const durationUnits: Readonly<Record<string, number>> = { h: 3600, m: 60, s: 1 };

/** `90s`, `30m`, `1h30m`; "" or "0" for none. A bare number is refused: minutes or seconds? */
export function parseTimeout(value: string, fail: Fail): number | undefined {
  if (value === "" || value === "0") return undefined;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(value);
  if (/^\d+$/.test(value)) {
    fail("timeout", `timeout: ${quote(value)} has no unit; write e.g. "${value}m" (minutes), "${value}s" (seconds) or "1h30m"`);
    return undefined;
  }
  if (!match || value === "") {
    fail("timeout", `timeout: ${quote(value)} is not a duration; write e.g. "45m", "90s" or "1h30m", or leave it empty to wait as long as the job runs`);
    return undefined;
  }
  const [, h, m, s] = match;
  const seconds = Number(h ?? 0) * durationUnits["h"]! + Number(m ?? 0) * durationUnits["m"]! + Number(s ?? 0);
  return seconds === 0 ? undefined : seconds;
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
