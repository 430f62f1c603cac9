// Validation of the body of POST /v1/builds (its schema and the request it
// becomes are the contract's: dispatcher/protocol/build-request.ts): turns an
// untrusted body into a BuildRequest or a RequestError naming the field and
// what to do.
//
// validateBuildRequest is the authority: run it on the raw parsed body. (A
// framework validator in front of it must not coerce types or drop unknown
// properties — Fastify's default Ajv does both — or users lose the error that
// tells them a field was misspelled.)

import { Value } from "@sinclair/typebox/value";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { type BuildRequest, type BuildRequestBody, BuildRequestSchema } from "./build-request.js";
import { RequestError, type RequestProblem, quoteValue } from "./errors.js";
import { parseImageReference, formatImageReference, type ImageReference } from "./image-reference.js";
import { type PlatformString, type WindowsVersion, parsePlatform, supportedPlatforms } from "./platforms.js";
import { maxTagLength, perPlatformTag } from "./push-refs.js";
import {
  type BuilderPreference,
  builderPreferences,
  isReservedBuildArg,
  maxBuildArgNameLength,
  maxLabelKeyLength,
  reservedBuildArgPrefix,
} from "./request-rules.js";
import { fieldPath, memberPath, pointerSegments } from "./json-pointer.js";
import {
  type Annotation,
  type CacheEntry,
  type CacheDirection,
  maxSecretBytes,
  maxSecretsTotalBytes,
  parseAnnotation,
  parseCacheEntry,
  secretIdProblem,
  utf8Length,
} from "./build-options.js";

const fieldHints: Readonly<Record<string, string>> = {
  repository: 'send the GitHub repository as "owner/name" (github.repository)',
  sha: "send the full 40-character lowercase commit SHA (github.sha)",
  ref: 'send a full ref: "refs/heads/main", "refs/tags/v1.0" or "refs/pull/12/merge" (github.ref)',
  context: "upload the context to PUT /v1/contexts/{sha256} and send its digest as sha256:<64 hex digits>",
  file: 'give the Dockerfile path relative to the context root, e.g. "docker/windows.Dockerfile"',
  target: "name a stage from the Dockerfile (FROM … AS <name>): a letter, then letters, digits, _, . or -",
  tags: "give image references like ghcr.io/owner/app:1.0",
  buildArgs: "build-arg names are letters, digits and _ (not starting with a digit); values are strings",
  labels: "label keys are letters, digits, ., _, / and - (e.g. org.opencontainers.image.source); values are strings",
  push: "send true or false",
  platforms: `list platforms from ${supportedPlatforms.map((p) => `"${p}"`).join(", ")}`,
  builder: `use ${new Intl.ListFormat("en", { type: "disjunction" }).format(builderPreferences.map((builder) => `"${builder}"`))}`,
  statusContext: 'use a short prefix like "dockhand" (letters, digits, space, ., _, / and -)',
  idempotencyKey: "use a short printable key, e.g. <runId>/<runAttempt>/<job>/<step>",
  baseImages: "map a Windows version (ltsc2019, ltsc2022, ltsc2025) to a base image reference",
  registrySecret: "name a Secret the dispatcher's policy grants this repository (lowercase letters, digits, - and .), or leave it out",
  githubToken: "send the token as issued by GitHub (e.g. github.token)",
  pull: "send true or false",
  noCache: "send true or false",
  secrets: "map a secret id (letters, digits, _, . and -) to its value, at most 64 KiB each",
  cacheFrom: 'give registry cache entries like "ghcr.io/owner/app:buildcache" or "type=registry,ref=ghcr.io/owner/app:buildcache"',
  cacheTo: 'give registry cache entries like "type=registry,ref=ghcr.io/owner/app:buildcache,mode=max"',
  annotations: 'give annotations as docker/metadata-action outputs them: "manifest:org.opencontainers.image.description=…"',
  provenance: 'send "min" or "max", or leave it out for none',
  sbom: 'send {} for BuildKit\'s scanner or {"generator": "<scanner image>"}, or leave it out for none',
};

const knownFields = Object.keys(BuildRequestSchema.properties);

/**
 * Validates a parsed JSON body. Throws a RequestError for the first problem,
 * carrying every problem found in `problems`.
 */
export function validateBuildRequest(body: unknown): BuildRequest {
  const schemaProblems = checkSchema(body);
  if (schemaProblems.length > 0) throw requestError(schemaProblems);
  const withDefaults = Value.Default(BuildRequestSchema, Value.Clone(body)) as BuildRequestBody;
  const { request, problems } = checkSemantics(withDefaults);
  if (problems.length > 0) throw requestError(problems);
  return request;
}

function requestError(problems: RequestProblem[]): RequestError {
  return new RequestError(problems[0] as RequestProblem, 400, problems);
}

function checkSchema(body: unknown): RequestProblem[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return [{ error: "body: must be a JSON object", field: "body", hint: "send the build request as a JSON object" }];
  }
  const problems: RequestProblem[] = [];
  const seen = new Set<string>();
  for (const error of Value.Errors(BuildRequestSchema, body)) {
    const field = fieldName(error.path, body);
    // TypeBox can report one field several ways (missing, then wrong type); the first says it best.
    if (seen.has(field)) continue;
    seen.add(field);
    problems.push(describeSchemaError(error, field));
  }
  return problems;
}

// What a value that fails a field's pattern (or enum) is not.
const notA: Readonly<Record<string, string>> = {
  repository: "is not a GitHub repository",
  sha: "is not a 40-character lowercase commit SHA",
  ref: "is not a branch, tag or pull request ref",
  context: "is not a sha256 digest",
  target: "is not a stage name",
  builder: "is not a builder",
  statusContext: "is not a usable status context",
  idempotencyKey: "contains control characters",
  registrySecret: "is not a Secret name",
  secrets: "is not a secret id",
  provenance: "is not a provenance mode",
};

function describeSchemaError(error: ValueError, field: string): RequestProblem {
  const segments = pointerSegments(error.path);
  const root = segments[0] ?? "body";
  const hint = fieldHints[root] ?? "see the build request schema";
  const problem = (what: string, overrideHint = hint): RequestProblem => ({
    error: `${field}: ${what}`,
    field,
    hint: overrideHint,
  });

  if (root === "platforms" && segments.length === 2 && typeof error.value === "string") {
    try {
      parsePlatform(error.value, field);
    } catch (parseError) {
      if (parseError instanceof RequestError) return parseError.toBody();
      throw parseError;
    }
  }
  if (error.value === undefined) return problem("is required");
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      if (segments.length === 1) {
        return problem("is not a known field", `remove it; the fields are ${knownFields.join(", ")}`);
      }
      if (root === "buildArgs") return problem(`${quoteValue(segments.at(-1))} is not a valid build-arg name`);
      if (root === "labels") return problem(`${quoteValue(segments.at(-1))} is not a valid label key`);
      if (root === "secrets") return problem(`${quoteValue(segments.at(-1))} is not a secret id`);
      return problem("is not a known field");
    case ValueErrorType.String:
      return problem("must be a string");
    case ValueErrorType.Boolean:
      return problem("must be true or false");
    case ValueErrorType.Array:
      return problem("must be an array");
    case ValueErrorType.Object:
      return problem("must be an object");
    case ValueErrorType.StringMaxLength:
      return problem(`is longer than ${String(error.schema["maxLength"])} characters`);
    case ValueErrorType.StringMinLength:
    case ValueErrorType.ArrayMinItems:
      return problem("is empty");
    case ValueErrorType.ArrayMaxItems:
      return problem(`has ${arrayLength(error.value)} entries; at most ${String(error.schema["maxItems"])} are allowed`);
    case ValueErrorType.ObjectMaxProperties:
      return problem(
        `has ${objectSize(error.value)} entries; at most ${String(error.schema["maxProperties"])} are allowed`,
      );
    case ValueErrorType.StringPattern:
    case ValueErrorType.Union:
    case ValueErrorType.Literal:
      // The token must never appear in an error: errors are logged and echoed.
      if (root === "githubToken") return problem("is not a GitHub token");
      if (root === "secrets") return problem("is not valid");
      return problem(`${quoteValue(error.value)} ${notA[root] ?? "is not valid"}`);
    default:
      return problem(`is not valid (${error.message})`);
  }
}

function checkSemantics(body: BuildRequestBody): { request: BuildRequest; problems: RequestProblem[] } {
  const problems: RequestProblem[] = [];
  const add = (field: string, what: string, hint: string) => problems.push({ error: `${field}: ${what}`, field, hint });

  const repositoryName = body.repository.split("/")[1];
  if (repositoryName === "." || repositoryName === "..") {
    add("repository", `${quoteValue(body.repository)} is not a GitHub repository`, fieldHints["repository"] as string);
  }

  const refProblem = gitRefProblem(body.ref);
  if (refProblem) add("ref", `${quoteValue(body.ref)} ${refProblem}`, fieldHints["ref"] as string);

  const file = normalizeDockerfilePath(body.file ?? "Dockerfile");
  if (!file.ok) add("file", `${quoteValue(body.file)} ${file.problem}`, file.hint);

  const platforms = body.platforms as PlatformString[];
  const parsedPlatforms = platforms.map((platform, index) => parsePlatform(platform, `platforms[${index}]`));
  platforms.forEach((platform, index) => {
    const first = platforms.indexOf(platform);
    if (first !== index) {
      add(`platforms[${index}]`, `${quoteValue(platform)} is listed twice`, `remove the duplicate (also at platforms[${first}])`);
    }
  });
  const multiPlatform = new Set(platforms).size > 1;
  const requestedWindows = new Set(
    parsedPlatforms.flatMap((platform) => (platform.os === "windows" ? [platform.windowsVersion] : [])),
  );

  const tags: string[] = [];
  (body.tags ?? []).forEach((tag, index) => {
    const field = `tags[${index}]`;
    const parsed = parseImageReference(tag);
    if (!parsed.ok) {
      add(field, `${quoteValue(tag)} ${parsed.problem}`, fieldHints["tags"] as string);
      return;
    }
    if (parsed.reference.digest !== undefined) {
      add(field, `${quoteValue(tag)} has a digest; a pushed image is named by a tag`, "remove the @sha256:… part");
      return;
    }
    const full = withTag(parsed.reference);
    const tagText = full.tag ?? "latest";
    if (multiPlatform) {
      const longest = Math.max(...parsedPlatforms.map((platform) => perPlatformTag(tagText, platform.slug).length));
      if (longest > maxTagLength) {
        add(
          field,
          `${quoteValue(tag)} has a tag too long for per-platform tags (<tag>-<platform> must fit in ${maxTagLength} characters)`,
          `shorten the tag to at most ${maxTagLength - (longest - tagText.length)} characters`,
        );
        return;
      }
    }
    const text = formatImageReference(full);
    const first = tags.indexOf(text);
    if (first !== -1) {
      add(field, `${quoteValue(tag)} is listed twice`, `remove the duplicate (same image as tags[${first}])`);
      return;
    }
    tags.push(text);
  });
  const push = body.push ?? true;
  if (push && (body.tags ?? []).length === 0) {
    add("tags", "is empty but push is true", "add at least one tag, e.g. ghcr.io/owner/app:1.0, or set push to false");
  }

  const buildArgs = body.buildArgs ?? {};
  for (const name of Object.keys(buildArgs)) {
    if (name.length > maxBuildArgNameLength) {
      add(memberField("buildArgs", `${name.slice(0, 40)}…`), `name is longer than ${maxBuildArgNameLength} characters`, fieldHints["buildArgs"] as string);
    }
    if (isReservedBuildArg(name)) {
      add(
        memberField("buildArgs", name),
        `${quoteValue(name)} is set by dockhand`,
        name === "WINDOWS_VERSION" || name.startsWith(reservedBuildArgPrefix)
          ? "remove it: dockhand sets it per platform (use baseImages to choose a base image per Windows version)"
          : "remove it: the builder sets it from the platform",
      );
    }
    const control = controlCharacter(buildArgs[name] as string);
    if (control) {
      add(memberField("buildArgs", name), `contains ${control}`, "build-arg values are one line of text: remove it, or put multi-line data in a file in the context");
    }
  }
  const labels = body.labels ?? {};
  for (const key of Object.keys(labels)) {
    if (key.length > maxLabelKeyLength) add(memberField("labels", `${key.slice(0, 40)}…`), `key is longer than ${maxLabelKeyLength} characters`, fieldHints["labels"] as string);
    const control = controlCharacter(labels[key] as string);
    if (control) add(memberField("labels", key), `contains ${control}`, "label values are one line of text: remove it");
  }

  const baseImages: Partial<Record<WindowsVersion, string>> = {};
  for (const [version, image] of Object.entries(body.baseImages ?? {}) as [WindowsVersion, string | undefined][]) {
    if (image === undefined) continue;
    const field = `baseImages.${version}`;
    const parsed = parseImageReference(image);
    if (!parsed.ok) {
      add(field, `${quoteValue(image)} ${parsed.problem}`, "give an image reference, e.g. mcr.microsoft.com/windows/servercore:ltsc2022");
      continue;
    }
    if (!requestedWindows.has(version)) {
      add(field, `is set but platforms does not include "windows/amd64:${version}"`, `remove it or add "windows/amd64:${version}" to platforms`);
      continue;
    }
    baseImages[version] = image;
  }

  const secrets = body.secrets ?? {};
  let secretBytes = 0;
  for (const [id, value] of Object.entries(secrets)) {
    const idProblem = secretIdProblem(id);
    if (idProblem) add(memberField("secrets", id), `id ${quoteValue(id)} ${idProblem}`, fieldHints["secrets"] as string);
    // Never quote a secret's value: errors are logged and echoed to the workflow log.
    const bytes = utf8Length(value);
    if (bytes > maxSecretBytes) add(memberField("secrets", id), `is ${bytes} bytes; at most ${maxSecretBytes} are allowed`, "pass a smaller secret, e.g. a token rather than a whole keystore");
    secretBytes += bytes;
  }
  if (secretBytes > maxSecretsTotalBytes) add("secrets", `hold ${secretBytes} bytes together; at most ${maxSecretsTotalBytes} are allowed`, "pass fewer or smaller secrets");

  const cacheEntries = (field: "cacheFrom" | "cacheTo", direction: CacheDirection): CacheEntry[] =>
    (body[field] ?? []).flatMap((value, index) => {
      const parsed = parseCacheEntry(value, direction);
      if (parsed.ok) return [parsed.entry];
      add(`${field}[${index}]`, `${quoteValue(value)} ${parsed.problem}`, parsed.hint);
      return [];
    });
  const cacheFrom = cacheEntries("cacheFrom", "from");
  const cacheTo = cacheEntries("cacheTo", "to");

  const annotations: Annotation[] = [];
  (body.annotations ?? []).forEach((value, index) => {
    const parsed = parseAnnotation(value);
    if (!parsed.ok) {
      add(`annotations[${index}]`, `${quoteValue(value)} ${parsed.problem}`, parsed.hint);
      return;
    }
    const { level, key } = parsed.annotation;
    const first = annotations.findIndex((a) => a.level === level && a.key === key);
    if (first !== -1) {
      add(`annotations[${index}]`, `sets ${level}:${key} again`, "keep one line per key and type");
      return;
    }
    annotations.push(parsed.annotation);
  });

  const generator = body.sbom?.generator;
  if (generator !== undefined) {
    const parsed = parseImageReference(generator);
    if (!parsed.ok) add("sbom.generator", `${quoteValue(generator)} ${parsed.problem}`, "give the scanner image, e.g. docker/buildkit-syft-scanner:stable-1");
  }

  const request: BuildRequest = {
    repository: body.repository,
    sha: body.sha,
    ref: body.ref,
    context: body.context as `sha256:${string}`,
    file: file.ok ? file.path : "Dockerfile",
    target: body.target,
    tags,
    buildArgs: { ...buildArgs },
    labels: { ...labels },
    push,
    platforms,
    builder: (body.builder ?? "auto") as BuilderPreference,
    statusContext: body.statusContext?.replace(/\/+$/, ""),
    idempotencyKey: body.idempotencyKey,
    baseImages,
    registrySecret: body.registrySecret,
    githubToken: body.githubToken,
    pull: body.pull ?? false,
    noCache: body.noCache ?? false,
    secrets: { ...secrets },
    cacheFrom,
    cacheTo,
    annotations,
    provenance: body.provenance,
    sbom: body.sbom === undefined ? undefined : { generator: body.sbom.generator },
  };
  return { request, problems };
}

/**
 * Names the first control character of a build-arg or label value; tabs
 * pass. Each value travels as one argument (`--build-arg=K=V`, never through
 * a shell), but it also lands in the build log, where a line break forges
 * log lines, and in the image config, which tools read line by line.
 */
function controlCharacter(value: string): string | undefined {
  const match = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(value);
  if (!match) return undefined;
  const code = match[0].charCodeAt(0);
  if (code === 0) return "a NUL character";
  if (code === 0x0a || code === 0x0d) return "a line break";
  return `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
}

function withTag(reference: ImageReference): ImageReference {
  return reference.tag === undefined ? { ...reference, tag: "latest" } : reference;
}

// `git check-ref-format` rules that the pattern does not already cover
// (https://git-scm.com/docs/git-check-ref-format).
function gitRefProblem(ref: string): string | undefined {
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(ref)) return "contains a character git does not allow in refs";
  if (ref.includes("..")) return 'contains ".."';
  if (ref.includes("@{")) return 'contains "@{"';
  if (ref.includes("//")) return 'contains "//"';
  if (ref.endsWith("/") || ref.endsWith(".") || ref.endsWith(".lock")) return 'ends with "/", "." or ".lock"';
  if (ref.split("/").some((component) => component.startsWith("."))) return 'has a component starting with "."';
  return undefined;
}

export type DockerfilePathResult =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly problem: string; readonly hint: string };

/**
 * Checks a Dockerfile path is a plain relative path inside the context, and
 * drops a leading "./". Both builders resolve it inside the context, but the
 * docker CLI runs on Windows here, where "\", drive letters and ":" streams
 * mean something, so those are refused rather than interpreted.
 */
export function normalizeDockerfilePath(value: string): DockerfilePathResult {
  const hint = fieldHints["file"] as string;
  if (value.includes("\\")) {
    return { ok: false, problem: 'uses "\\"', hint: `use forward slashes: ${quoteValue(value.replaceAll("\\", "/"))}` };
  }
  if (value.startsWith("/")) return { ok: false, problem: "is absolute", hint };
  if (/^[A-Za-z]:/.test(value)) return { ok: false, problem: "has a drive letter", hint };
  if (value === "-") return { ok: false, problem: "would read the Dockerfile from stdin", hint };
  if (/[\u0000-\u001f\u007f:*?"<>|]/.test(value)) {
    return { ok: false, problem: 'contains a character not allowed in file names (control, :, *, ?, ", <, >, |)', hint };
  }
  const segments = value.split("/");
  while (segments[0] === "." && segments.length > 1) segments.shift();
  if (segments.some((segment) => segment === "..")) return { ok: false, problem: 'leaves the context with ".."', hint };
  if (segments.some((segment) => segment === "" || segment === ".")) {
    return { ok: false, problem: 'has an empty or "." path segment', hint };
  }
  return { ok: true, path: segments.join("/") };
}

/** Request fields as the Action's users know them: buildArgs.FOO, labels["org.opencontainers.image.source"]. */
const requestFieldStyle = { plainKey: /^[A-Za-z_][A-Za-z0-9_]*$/, root: "body" };

function fieldName(pointer: string, body: unknown): string {
  return fieldPath(pointer, body, requestFieldStyle);
}

function memberField(parent: string, key: string): string {
  return memberPath(parent, key, requestFieldStyle);
}

function arrayLength(value: unknown): number {
  return Array.isArray(value) ? value.length : 0;
}

function objectSize(value: unknown): number {
  return typeof value === "object" && value !== null ? Object.keys(value).length : 0;
}
