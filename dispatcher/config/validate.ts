// Pure config parsing: text → object, env overrides, defaults, validation.
// load.ts is the only part that reads files or process.env.

import { type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { parseImageReference } from "../protocol/image-reference.js";
import { parseImagePrefix } from "../policy/image-prefix.js";
import { cliImageVersion } from "../plan/docker-engine-compat.js";
import { hypervHostProblem } from "../plan/windows-host.js";
import { windowsBuildLabel, windowsBuilds, windowsVersions } from "../protocol/platforms.js";
import { type Config, ConfigSchema, envOverrides } from "./schema.js";
import { fieldPath, pointerSegments } from "../protocol/json-pointer.js";

export interface ConfigProblem {
  /** Dotted key: `contexts.signingKey`, `dockerPool.nodeSelector["agent pool"]`. */
  readonly key: string;
  /** What is wrong and, where it helps, what to do. Never contains a secret's value. */
  readonly message: string;
}

/** The one error type of the config boundary: the dispatcher prints it and exits. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";

  constructor(
    /** Where the config came from: the file path, or "environment". */
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `invalid dockhand config (${source}):\n${problems.map((problem) => `  ${problem.key}: ${problem.message}`).join("\n")}`,
    );
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses config file text (YAML; JSON is YAML too). An empty file is an empty config. */
export function parseConfigText(text: string, source: string): unknown {
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const position = error.linePos?.[0];
      const where = position ? `line ${position.line}, column ${position.col}` : "file";
      const reason = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
      throw new ConfigError(source, [{ key: where, message: `is not valid YAML: ${reason}` }]);
    }
    throw error;
  }
}

/**
 * Turns raw config (from a file, possibly `{}`) plus environment overrides into
 * a validated Config with defaults. Throws a ConfigError listing every problem.
 */
export function resolveConfig(raw: unknown, env: Env, source: string): Config {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError(source, [{ key: "(top level)", message: "must be a mapping of keys to values" }]);
  }
  const { config: overridden, envByKey } = applyEnvOverrides(raw as Record<string, unknown>, env);
  const withDefaults = Value.Default(ConfigSchema, overridden);
  const problems = schemaProblems(withDefaults, envByKey);
  if (problems.length > 0) throw new ConfigError(source, problems);
  const config = normalize(withDefaults as Config);
  const semantic = semanticProblems(config, envByKey);
  if (semantic.length > 0) throw new ConfigError(source, semantic);
  return config;
}

/**
 * Copies `raw` with each set DOCKHAND_* variable written to its key. Empty
 * variables count as unset (manifests often template an empty value for
 * "not configured"). Integer keys are parsed when the text is an integer;
 * otherwise the string stays and validation reports it against the variable.
 */
export function applyEnvOverrides(
  raw: Record<string, unknown>,
  env: Env,
): { config: Record<string, unknown>; envByKey: Map<string, string> } {
  const config = structuredClone(raw);
  const envByKey = new Map<string, string>();
  for (const { env: name, key } of envOverrides) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    const path = key.split(".");
    const type = schemaAt(path)?.["type"];
    const isInteger = type === "integer";
    let node: Record<string, unknown> = config;
    for (const segment of path.slice(0, -1)) {
      const child = node[segment];
      if (typeof child !== "object" || child === null || Array.isArray(child)) node[segment] = {};
      node = node[segment] as Record<string, unknown>;
    }
    node[path.at(-1) as string] =
      isInteger && /^[0-9]+$/.test(value) ? Number(value) : type === "boolean" && /^(true|false)$/.test(value) ? value === "true" : value;
    envByKey.set(key, name);
  }
  return { config, envByKey };
}

function schemaAt(path: readonly string[]): TSchema | undefined {
  let schema: TSchema | undefined = ConfigSchema;
  for (const segment of path) {
    if (schema?.["type"] === "array" && /^[0-9]+$/.test(segment)) {
      schema = schema["items"] as TSchema | undefined;
      continue;
    }
    const properties = schema?.["properties"] as Record<string, TSchema> | undefined;
    schema = properties?.[segment];
  }
  return schema;
}

function schemaProblems(value: unknown, envByKey: ReadonlyMap<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(ConfigSchema, value)) {
    const key = keyName(error.path, value);
    if (seen.has(key)) continue;
    seen.add(key);
    const fromEnv = envByKey.get(key);
    problems.push({ key: fromEnv ? `${key} (from ${fromEnv})` : key, message: describe(error, key) });
  }
  return problems;
}

function describe(error: ValueError, key: string): string {
  const schema = error.schema;
  const secret = schema["secret"] === true;
  const shown = secret ? "the value" : quote(error.value);
  if (error.value === undefined) {
    const env = envOverrides.find((override) => override.key === key)?.env;
    return env ? `is required (set it in the config file or ${env})` : "is required";
  }
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const parentSchema = schemaAt(pointerSegments(error.path).slice(0, -1));
      const known = Object.keys((parentSchema?.["properties"] as object | undefined) ?? {});
      if (key === "dockerPool.nodeSelector" || key === "dockerPool.tolerations") {
        return `moved: each Windows version has its own pool now; set dockerPool.pools.<version>.${key.slice("dockerPool.".length)} (e.g. dockerPool.pools.ltsc2022.nodeSelector: {agentpool: win22})`;
      }
      if (key === "dockerPool.keepStorage") {
        return "moved: the node's disk is kept by the dockerd DaemonSets' node-gc container (dockhand-node-gc --keep-storage=40Gi in deploy/base/dockerd-daemonsets.yaml), since a build's own last step cannot clean up after a failed or cancelled build; remove the key and set --keep-storage there";
      }
      return known.length > 0 ? `is not a known key (known here: ${known.join(", ")})` : "is not a valid key";
    }
    case ValueErrorType.StringPattern:
      return `${shown} is not ${String(schema["expected"] ?? `matching ${String(schema["pattern"])}`)}`;
    case ValueErrorType.StringMinLength:
      return secret
        ? `is shorter than ${String(schema["minLength"])} characters`
        : `${shown} is shorter than ${String(schema["minLength"])} characters`;
    case ValueErrorType.StringMaxLength:
      return `is longer than ${String(schema["maxLength"])} characters`;
    case ValueErrorType.Integer:
      return `${shown} must be an integer`;
    case ValueErrorType.ObjectMinProperties:
      return `must name at least one label of the pool (e.g. agentpool: ${poolExample(key)}, or node.kubernetes.io/windows-build alone when the cluster has one pool of that version)`;
    case ValueErrorType.IntegerMinimum:
      return `${shown} must be at least ${String(schema["minimum"])}`;
    case ValueErrorType.IntegerMaximum:
      return `${shown} must be at most ${String(schema["maximum"])}`;
    case ValueErrorType.String:
      return `${shown} must be a string`;
    case ValueErrorType.Object:
      return `${shown} must be a mapping`;
    case ValueErrorType.Array:
      return `${shown} must be a list`;
    case ValueErrorType.Union: {
      const options = (schema["anyOf"] as TSchema[] | undefined) ?? [];
      return `${shown} must be one of ${options.map((option) => JSON.stringify(option["const"])).join(", ")}`;
    }
    default:
      return `${secret ? "is not valid" : `${shown} is not valid`} (${error.message})`;
  }
}

function poolExample(key: string): string {
  const year = /ltsc20(\d\d)/.exec(key)?.[1];
  return year === undefined ? "win22" : `win${year}`;
}

// Values written in ways the schema accepts but the dispatcher wants in one form.
function normalize(config: Config): Config {
  const app = config.github.app;
  return {
    ...config,
    publicUrl: config.publicUrl.replace(/\/+$/, ""),
    github: {
      ...config.github,
      apiUrl: config.github.apiUrl.replace(/\/+$/, ""),
      // A PEM key passed through an environment variable often arrives with
      // literal "\n" instead of newlines.
      ...(app ? { app: { ...app, privateKey: unescapeNewlines(app.privateKey) } } : {}),
    },
  };
}

function unescapeNewlines(pem: string): string {
  return pem.includes("\n") ? pem : pem.replaceAll("\\n", "\n");
}

function semanticProblems(config: Config, envByKey: ReadonlyMap<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string) => {
    const fromEnv = envByKey.get(key);
    problems.push({ key: fromEnv ? `${key} (from ${fromEnv})` : key, message });
  };

  try {
    new URL(config.publicUrl);
  } catch {
    add("publicUrl", `${quote(config.publicUrl)} is not a URL`);
  }
  if (config.github.token !== undefined && config.github.app !== undefined) {
    add("github", "sets both token and app; keep one (the app is preferred: its tokens expire and are scoped)");
  }
  if (config.github.app && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(config.github.app.privateKey)) {
    add("github.app.privateKey", "is not a PEM private key (-----BEGIN RSA PRIVATE KEY----- …)");
  }
  addDockerPoolProblems(config, add);
  const lease = config.kubernetes.leaderElection;
  if (lease.renewDeadlineSeconds >= lease.leaseDurationSeconds) {
    add("kubernetes.leaderElection.renewDeadlineSeconds", `is ${lease.renewDeadlineSeconds}, not less than leaseDurationSeconds (${lease.leaseDurationSeconds}): a leader that cannot renew would still reconcile after another took over`);
  }
  if (lease.retryPeriodSeconds >= lease.renewDeadlineSeconds) {
    add("kubernetes.leaderElection.retryPeriodSeconds", `is ${lease.retryPeriodSeconds}, not less than renewDeadlineSeconds (${lease.renewDeadlineSeconds}): the leader would give up before its first retry`);
  }
  if (config.metrics.port !== undefined && config.metrics.port === config.listen.port) {
    add("metrics.port", `is ${config.metrics.port}, the API's own port (listen.port): pick another port, or unset metrics.port to serve /metrics on the API's port`);
  }
  addBuildkitWindowsProblems(config, add);
  const buildctlImage = parseImageReference(config.buildkit.image);
  if (!buildctlImage.ok) add("buildkit.image", `${quote(config.buildkit.image)} ${buildctlImage.problem}`);
  const cache = config.buildkit.cacheRepository;
  if (cache !== undefined) {
    const parsed = parseImageReference(cache);
    if (!parsed.ok) add("buildkit.cacheRepository", `${quote(cache)} ${parsed.problem}`);
    else if (parsed.reference.tag !== undefined || parsed.reference.digest !== undefined) {
      add("buildkit.cacheRepository", `${quote(cache)} names a tag or digest; give the repository only (dockhand picks the tags)`);
    }
  }
  problems.push(...securityProblems(config));
  return problems;
}

type AddProblem = (key: string, message: string) => void;

function addBuildkitWindowsProblems(config: Config, add: AddProblem): void {
  for (const version of windowsVersions) {
    const image = config.buildkitWindows.images[version];
    const parsed = parseImageReference(image);
    if (!parsed.ok) add(`buildkitWindows.images.${version}`, `${quote(image)} ${parsed.problem}`);
  }
  config.buildkitWindows.versions.forEach((version, index) => {
    const key = `buildkitWindows.versions[${index}]`;
    const pool = config.dockerPool.pools[version];
    if (pool === undefined) {
      add(key, `is ${version}, which has no dockerPool.pools.${version}: BuildKit runs on that pool's nodes; add the pool, or remove ${version} here`);
    } else if (pool.isolation === "hyperv") {
      add(key, `is ${version}, whose pool is isolation hyperv: BuildKit has no per-build Hyper-V isolation, so ${version} builds stay on the dockerd pool of a newer version; remove ${version} here`);
    }
  });
}

function addDockerPoolProblems(config: Config, add: AddProblem): void {
  for (const version of windowsVersions) {
    const image = config.dockerPool.images[version];
    const key = `dockerPool.images.${version}`;
    const parsed = parseImageReference(image);
    if (!parsed.ok) {
      add(key, `${quote(image)} ${parsed.problem}`);
      continue;
    }
    const cli = cliImageVersion(image, version);
    if (!cli.ok) add(key, `${quote(image)} ${cli.problem}`);
  }
  for (const version of windowsVersions) {
    const pool = config.dockerPool.pools[version];
    if (pool === undefined) continue;
    const key = `dockerPool.pools.${version}.nodeSelector`;
    const hostProblem = hypervHostProblem(config, version);
    if (hostProblem) add(hostProblem.key, hostProblem.message);
    const build = pool.nodeSelector[windowsBuildLabel];
    if (pool.isolation === "hyperv" && build !== undefined) {
      add(`${key}["${windowsBuildLabel}"]`, `is set, but ${version} builds with isolation hyperv run on a newer version's nodes, whose build dockhand sets: remove it`);
    } else if (build !== undefined && build !== windowsBuilds[version]) {
      add(`${key}["${windowsBuildLabel}"]`, `is ${quote(build)}, but ${version} nodes are ${windowsBuilds[version]}: remove it (dockhand sets it) or fix it`);
    }
    const os = pool.nodeSelector["kubernetes.io/os"];
    if (os !== undefined && os !== "windows") add(`${key}["kubernetes.io/os"]`, `is ${quote(os)}: a dockerd pool is Windows nodes; remove it (dockhand sets it)`);
  }
}

const loopbackHosts = new Set(["127.0.0.1", "::1", "localhost"]);

function securityProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string) => problems.push({ key, message });
  if (config.auth.disabled && !loopbackHosts.has(config.listen.host)) {
    add("auth.disabled", `is true but listen.host is ${quote(config.listen.host)}; an unauthenticated dispatcher may only listen on 127.0.0.1, ::1 or localhost`);
  }
  const names = new Set<string>();
  config.auth.sharedSecrets.forEach((entry, index) => {
    if (names.has(entry.name)) add(`auth.sharedSecrets[${index}].name`, `${quote(entry.name)} is used twice; give each secret its own name`);
    names.add(entry.name);
  });
  config.policy.repositories.forEach((rule, index) => {
    rule.imagePrefixes.forEach((prefix, prefixIndex) => {
      const parsed = parseImagePrefix(prefix);
      if (!parsed.ok) add(`policy.repositories[${index}].imagePrefixes[${prefixIndex}]`, `${quote(prefix)} ${parsed.problem}`);
    });
  });
  return problems;
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 100 ? text : `${text.slice(0, 100)}…`;
}

// /dockerPool/nodeSelector/agent pool → dockerPool.nodeSelector["agent pool"]; /x/tolerations/0 → x.tolerations[0]
function keyName(pointer: string, root: unknown): string {
  return fieldPath(pointer, root, { plainKey: /^[A-Za-z_][A-Za-z0-9_-]*$/, root: "(top level)" });
}
