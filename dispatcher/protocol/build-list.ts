// GET /v1/builds: which builds a caller asks for (filters, page size, the
// cursor of the page before) and the page it gets, newest first. The schema is
// what the route declares and docs/openapi.json shows; parseBuildListQuery is
// the authority on the query, with an error per field that says what to send.
// The CLI imports the types only.

import { type Static, Type } from "@sinclair/typebox";
import { BuildStateSchema } from "./build-state.js";
import { RequestError } from "./errors.js";
import { type PlatformPhase, platformPhases } from "./phases.js";
import { type Builder, builders } from "./request-rules.js";

export const defaultPageSize = 20;
export const maxPageSize = 100;

export const BuildListQuerySchema = Type.Object(
  {
    repository: Type.Optional(Type.String({ description: 'Only builds of this repository, "owner/name" (case-insensitive).' })),
    sha: Type.Optional(Type.String({ description: "Only builds of this commit (full 40-character SHA)." })),
    state: Type.Optional(Type.String({ description: `Only builds in this state: ${platformPhases.join(", ")}.` })),
    builder: Type.Optional(Type.String({ description: `Only builds with a platform on this builder: ${builders.join(", ")}.` })),
    since: Type.Optional(Type.String({ description: "Only builds created at or after this time (RFC 3339, e.g. 2026-12-04T10:00:00Z)." })),
    limit: Type.Optional(Type.String({ description: `Builds per page, 1 to ${maxPageSize}; default ${defaultPageSize}.` })),
    cursor: Type.Optional(Type.String({ description: "The `next` of the page before; absent for the first page." })),
  },
  { additionalProperties: false },
);

export const BuildListBodySchema = Type.Object({
  builds: Type.Array(BuildStateSchema, { description: "Newest first." }),
  next: Type.Optional(Type.String({ description: "Pass as `cursor` for the next page; absent on the last page." })),
});

export type BuildListBody = Static<typeof BuildListBodySchema>;

export interface BuildListQuery {
  repository?: string;
  sha?: string;
  state?: PlatformPhase;
  builder?: Builder;
  /** Milliseconds since the epoch. */
  since?: number;
  limit: number;
  cursor?: BuildCursor;
}

/** Where the page before ended: its last build's creation time and id (ids break ties). */
export interface BuildCursor {
  createdAt: string;
  id: string;
}

const known = new Set(Object.keys(BuildListQuerySchema.properties));

/** The query string of GET /v1/builds, checked field by field; a RequestError names the first wrong one. */
export function parseBuildListQuery(raw: Readonly<Record<string, unknown>>): BuildListQuery {
  const field = (name: string): string | undefined => {
    const value = raw[name];
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw problem(name, `${name}: given more than once`, `send ${name} once`);
    return value;
  };
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) throw problem(name, `${name}: not a filter of GET /v1/builds`, `use only ${[...known].join(", ")}`);
  }
  const query: BuildListQuery = { limit: defaultPageSize };

  const repository = field("repository");
  if (repository !== undefined) {
    if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(repository)) throw problem("repository", `repository: "${repository}" is not "owner/name"`, 'send the repository as "owner/name", e.g. octo-org/app');
    query.repository = repository;
  }
  const sha = field("sha");
  if (sha !== undefined) {
    if (!/^[0-9a-f]{40}$/.test(sha)) throw problem("sha", `sha: "${sha}" is not a full commit SHA`, "send all 40 lowercase hex characters of the commit SHA");
    query.sha = sha;
  }
  const state = field("state");
  if (state !== undefined) {
    if (!(platformPhases as readonly string[]).includes(state)) throw problem("state", `state: "${state}" is not a build state`, `use one of ${platformPhases.join(", ")}`);
    query.state = state as PlatformPhase;
  }
  const builder = field("builder");
  if (builder !== undefined) {
    if (!(builders as readonly string[]).includes(builder)) throw problem("builder", `builder: "${builder}" is not a builder`, `use ${new Intl.ListFormat("en", { type: "disjunction" }).format(builders)}`);
    query.builder = builder as Builder;
  }
  const since = field("since");
  if (since !== undefined) {
    const ms = Date.parse(since);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(since) || Number.isNaN(ms)) {
      throw problem("since", `since: "${since}" is not an RFC 3339 time`, "send a time with its zone, e.g. 2026-12-04T10:00:00Z");
    }
    query.since = ms;
  }
  const limit = field("limit");
  if (limit !== undefined) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= maxPageSize)) throw problem("limit", `limit: "${limit}" is not a page size from 1 to ${maxPageSize}`, `send a whole number from 1 to ${maxPageSize}`);
    query.limit = n;
  }
  const cursor = field("cursor");
  if (cursor !== undefined) {
    const decoded = decodeCursor(cursor);
    if (!decoded) throw problem("cursor", "cursor: not a cursor this API gave out", "pass the `next` of the previous page unchanged, or leave cursor out for the first page");
    query.cursor = decoded;
  }
  return query;
}

export function encodeCursor(cursor: BuildCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), "utf8").toString("base64url");
}

export function decodeCursor(text: string): BuildCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string") return { createdAt: value[0], id: value[1] };
  } catch {
    // Not base64url JSON: the caller's error, said by the parser.
  }
  return undefined;
}

function problem(field: string, error: string, hint: string): RequestError {
  return new RequestError({ error, field: `query.${field}`, hint });
}
