// Property-based tests of the build-request validator with fast-check: any
// JSON body is either a valid request or a RequestError naming a field (never
// another exception, never a 5xx), and every valid request round-trips. Each
// property runs for a bounded time so the unit suite stays fast; a failure
// prints the seed and the shrunk counterexample to reproduce it.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RequestError } from "../protocol/errors.js";
import { supportedPlatforms } from "../protocol/platforms.js";
import { BuildRequestSchema, type BuildRequest } from "../protocol/build-request.js";
import { isReservedBuildArg } from "../protocol/request-rules.js";
import { validateBuildRequest } from "../protocol/build-request-validation.js";
import { toHttpError } from "./error-mapping.js";

const budget = { numRuns: 2000, interruptAfterTimeLimit: 1500 };
const knownFields = Object.keys(BuildRequestSchema.properties);

type Outcome = { ok: true; request: BuildRequest } | { ok: false; error: RequestError };

/** Runs the validator; anything but a RequestError escapes and fails the property. */
function outcome(body: unknown): Outcome {
  try {
    return { ok: true, request: validateBuildRequest(body) };
  } catch (error) {
    if (error instanceof RequestError) return { ok: false, error };
    throw error;
  }
}

/** The error is a 4xx whose message starts with the field it names. */
function expectNamesAField(error: RequestError): void {
  const { status, body } = toHttpError(error);
  expect(status).toBeGreaterThanOrEqual(400);
  expect(status).toBeLessThan(500);
  expect(body.field.length).toBeGreaterThan(0);
  expect(body.error.startsWith(`${body.field}: `)).toBe(true);
  expect(body.hint.length).toBeGreaterThan(0);
}

// --- Valid requests

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));
const owner = fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/);
const repositoryName = fc.stringMatching(/^[A-Za-z0-9._-]{1,100}$/).filter((name) => name !== "." && name !== "..");
const branch = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,30}(?:\/[a-z0-9][a-z0-9-]{0,30}){0,2}$/);
const ref = fc.oneof(
  branch.map((name) => `refs/heads/${name}`),
  fc.stringMatching(/^v[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/).map((tag) => `refs/tags/${tag}`),
  fc.integer({ min: 1, max: 99999 }).map((n) => `refs/pull/${n}/merge`),
);
const pathSegment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/);
const file = fc.array(pathSegment, { minLength: 1, maxLength: 4 }).map((segments) => segments.join("/"));
const stage = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,40}$/);
const buildArgName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,30}$/).filter((name) => !isReservedBuildArg(name));
const labelKey = fc.stringMatching(/^[a-z0-9][a-z0-9._/-]{0,40}$/);
// One line of text: anything but control characters (tab is fine).
const oneLine = fc.string({ unit: "grapheme", maxLength: 60 }).filter((value) => !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value));
const tag = fc.tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}$/)).map(([name, version]) => `r.example/team/${name}:${version}`);

const validBody = fc.record(
  {
    repository: fc.tuple(owner, repositoryName).map(([o, r]) => `${o}/${r}`),
    sha: hex(40),
    ref,
    context: hex(64).map((h) => `sha256:${h}`),
    file,
    target: stage,
    tags: fc.uniqueArray(tag, { minLength: 1, maxLength: 4 }),
    buildArgs: fc.dictionary(buildArgName, oneLine, { maxKeys: 5 }),
    labels: fc.dictionary(labelKey, oneLine, { maxKeys: 5 }),
    push: fc.constant(true),
    platforms: fc.shuffledSubarray([...supportedPlatforms], { minLength: 1 }),
    builder: fc.constantFrom("auto", "docker", "buildkit"),
    statusContext: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._ -]{0,30}[A-Za-z0-9]$/),
    idempotencyKey: fc.stringMatching(/^[0-9]{1,10}\/[0-9]{1,2}\/[a-z-]{1,20}\/[0-9]{1,2}$/),
  },
  { requiredKeys: ["repository", "sha", "ref", "context", "tags", "platforms"] },
);

/** What a client would send to get exactly `request` back. */
function bodyOf(request: BuildRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request, tags: [...request.tags], platforms: [...request.platforms], baseImages: { ...request.baseImages } };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

describe("validateBuildRequest (property-based)", () => {
  it("accepts every well-formed request and keeps what was sent", () => {
    fc.assert(
      fc.property(validBody, (body) => {
        const result = outcome(body);
        if (!result.ok) throw new Error(`refused a valid request: ${result.error.error}`);
        const { request } = result;
        expect(request.repository).toBe(body.repository);
        expect(request.sha).toBe(body.sha);
        expect(request.ref).toBe(body.ref);
        expect(request.context).toBe(body.context);
        expect(request.file).toBe(body.file ?? "Dockerfile");
        expect(request.target).toBe(body.target);
        expect(request.tags).toEqual(body.tags);
        expect(request.buildArgs).toEqual(body.buildArgs ?? {});
        expect(request.labels).toEqual(body.labels ?? {});
        expect(request.platforms).toEqual(body.platforms);
      }),
      budget,
    );
  });

  it("round-trips: a validated request, sent again as JSON, validates to itself", () => {
    fc.assert(
      fc.property(validBody, (body) => {
        const first = validateBuildRequest(body);
        const again = validateBuildRequest(JSON.parse(JSON.stringify(bodyOf(first))));
        expect(again).toEqual(first);
      }),
      budget,
    );
  });

  it("answers any JSON value with a request or a 4xx naming a field, never anything else", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (body) => {
        const result = outcome(body);
        if (!result.ok) expectNamesAField(result.error);
      }),
      budget,
    );
  });

  it("answers a valid request with one field replaced by any JSON value, naming that field when it refuses", () => {
    const field = fc.constantFrom(...knownFields);
    fc.assert(
      fc.property(validBody, field, fc.jsonValue({ maxDepth: 3 }), (body, name, value) => {
        const mutated = { ...body, [name]: value };
        const result = outcome(mutated);
        if (result.ok) return;
        expectNamesAField(result.error);
        // The first problem is about the replaced field (or, when a missing
        // field became valid, a field it depends on such as tags for push).
        const fields = result.error.problems.map((problem) => problem.field.replace(/[[.].*$/, ""));
        expect(fields.some((f) => f === name || f === "tags" || f === "baseImages")).toBe(true);
      }),
      budget,
    );
  });

  it("names an unknown field, whatever its name and value", () => {
    const unknownName = fc.string({ minLength: 1, maxLength: 30 }).filter((name) => !knownFields.includes(name) && name !== "__proto__");
    fc.assert(
      fc.property(validBody, unknownName, fc.jsonValue({ maxDepth: 2 }), (body, name, value) => {
        const result = outcome({ ...body, [name]: value });
        if (result.ok) throw new Error(`accepted the unknown field ${JSON.stringify(name)}`);
        expectNamesAField(result.error);
        expect(result.error.problems.some((problem) => problem.error.includes("is not a known field"))).toBe(true);
      }),
      budget,
    );
  });

  it("refuses a line break or control character in any build-arg or label value", () => {
    const control = fc.constantFrom("\n", "\r", "\r\n", "\u0000", "\u001b", "\u007f");
    fc.assert(
      fc.property(validBody, fc.constantFrom("buildArgs", "labels"), buildArgName, oneLine, control, (body, where, key, text, bad) => {
        const value = `${text.slice(0, 5)}${bad}${text.slice(5)}`;
        const result = outcome({ ...body, [where]: { [key]: value } });
        if (result.ok) throw new Error(`accepted ${JSON.stringify(value)} in ${where}`);
        expectNamesAField(result.error);
        expect(result.error.field.startsWith(where)).toBe(true);
      }),
      budget,
    );
  });
});
