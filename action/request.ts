// Inputs + runner context + context digest → the POST /v1/builds body
// (dispatcher/protocol/build-request.ts), and the way back: a dispatcher
// error's field → the input the user wrote. Pure.

import { createHash } from "node:crypto";
import type { BuildRequestBody } from "../dispatcher/protocol/build-request.js";
import type { ErrorBody } from "../dispatcher/protocol/error-body.js";
import type { Inputs, InputName } from "./inputs.js";
import type { RunnerContext } from "./runner.js";

/** What the Action sends: a body of the contract's schema, always with an idempotency key. */
export type ActionRequestBody = BuildRequestBody & { idempotencyKey: string };

/** The part of the body the idempotency key hashes: everything but the key, the token and the secrets' values (their ids count). */
type HashedBody = Omit<BuildRequestBody, "idempotencyKey" | "githubToken" | "secrets"> & { secretIds?: string[] };

export function buildRequestBody(inputs: Inputs, runner: RunnerContext, contextDigest: string): ActionRequestBody {
  const body: HashedBody = {
    repository: runner.repository,
    sha: runner.sha,
    ref: runner.ref,
    context: contextDigest,
    file: inputs.dockerfile,
    ...(inputs.target !== undefined ? { target: inputs.target } : {}),
    tags: [...inputs.tags],
    buildArgs: { ...inputs.buildArgs },
    labels: { ...inputs.labels },
    push: inputs.push,
    platforms: [...inputs.platforms],
    builder: inputs.builder,
    ...(inputs.statusContext !== undefined ? { statusContext: inputs.statusContext } : {}),
    // build-push-action's options, sent only when set so a request without them stays as it was.
    ...(inputs.pull ? { pull: true } : {}),
    ...(inputs.noCache ? { noCache: true } : {}),
    ...(inputs.cacheFrom.length > 0 ? { cacheFrom: [...inputs.cacheFrom] } : {}),
    ...(inputs.cacheTo.length > 0 ? { cacheTo: [...inputs.cacheTo] } : {}),
    ...(inputs.annotations.length > 0 ? { annotations: [...inputs.annotations] } : {}),
    ...(inputs.provenance !== undefined ? { provenance: inputs.provenance } : {}),
    ...(inputs.sbom !== undefined ? { sbom: inputs.sbom.generator === undefined ? {} : { generator: inputs.sbom.generator } } : {}),
  };
  const secretIds = Object.keys(inputs.secrets).sort();
  return {
    ...body,
    // A secret's value is not hashed: the key is stored in a Job annotation, and a short secret's hash can be guessed.
    idempotencyKey: idempotencyKey(runner, secretIds.length > 0 ? { ...body, secretIds } : body),
    ...(secretIds.length > 0 ? { secrets: { ...inputs.secrets } } : {}),
    ...(inputs.githubToken !== undefined ? { githubToken: inputs.githubToken } : {}),
  };
}

/**
 * `<run id>/<attempt>/<job>/<step>/<request hash>`: the same step of the same
 * attempt sending its request again (a retry after a dropped connection) gets
 * the same build, never a second one; a re-run (new attempt) builds anew.
 * The hash of the request tells matrix legs apart: they share run, attempt,
 * job and step id (GITHUB_JOB is the job's key, not the leg's), and without
 * it the dispatcher would answer the second leg 409 for reusing the key.
 * The token is left out of the hash: it changes per attempt and builds nothing.
 */
export function idempotencyKey(runner: RunnerContext, body: HashedBody): string {
  const hash = createHash("sha256").update(canonicalJson(body)).digest("hex").slice(0, 16);
  return `${runner.runId}/${runner.runAttempt}/${runner.job}/${runner.step}/${hash}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// Every field the Action sends; baseImages and registrySecret have no input.
const fieldInputs: Readonly<Partial<Record<keyof BuildRequestBody, InputName | string>>> = {
  repository: "GITHUB_REPOSITORY",
  sha: "GITHUB_SHA",
  ref: "GITHUB_REF",
  context: "context",
  file: "file",
  target: "target",
  tags: "tags",
  buildArgs: "build-args",
  labels: "labels",
  push: "push",
  platforms: "platforms",
  builder: "builder",
  statusContext: "status-context",
  githubToken: "github-token",
  pull: "pull",
  noCache: "no-cache",
  secrets: "secrets, secret-files or secret-envs",
  cacheFrom: "cache-from",
  cacheTo: "cache-to",
  annotations: "annotations",
  provenance: "provenance",
  sbom: "sbom",
  idempotencyKey: "GITHUB_RUN_ID/GITHUB_JOB/GITHUB_ACTION",
};

/**
 * What the user set to cause a dispatcher 4xx: `buildArgs.FOO` → the input
 * `build-args`, `platforms[1]` → `platforms`, `sha` → the variable GITHUB_SHA.
 */
export function inputForField(field: string): string | undefined {
  const root = /^[A-Za-z]+/.exec(field)?.[0] ?? field;
  return (fieldInputs as Readonly<Record<string, string>>)[root];
}

/** `platforms[0]: "…" is not supported (input platforms); use …` */
export function describeDispatcherError(status: number, body: unknown): string {
  if (body !== null && typeof body === "object" && typeof (body as { error?: unknown }).error === "string") {
    const { error, field, hint } = body as Partial<ErrorBody> & { error: string };
    const input = typeof field === "string" ? inputForField(field) : undefined;
    const where = input === undefined ? "" : input.startsWith("GITHUB_") ? ` (from ${input})` : ` (input ${input})`;
    return `${error}${where}${hint ? `; ${hint}` : ""}`;
  }
  return `the dispatcher answered HTTP ${status}${typeof body === "string" && body !== "" ? `: ${body.slice(0, 500)}` : ""}`;
}
