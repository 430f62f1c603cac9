// A GitHub REST API stand-in for tests. Every request is checked against
// GitHub's OpenAPI description (see openapi.ts) and recorded; the few
// operations the dispatcher uses are answered the way GitHub answers them,
// and failures (5xx, rate limits) can be injected to exercise retries.
import { createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { jwtVerify } from "jose";
import { gitHubOpenApi, type Json, type JsonObject, type Operation, type OperationMatch, type Validation } from "./openapi.js";
import { GitHubLimiter, tooManyStatuses, type GitHubLimits, type LimitKind } from "./limits.js";

export { gitHubLimits, type GitHubLimits, type LimitKind } from "./limits.js";

export type FailureKind = "server-error" | "bad-gateway" | "secondary-rate-limit" | "secondary-rate-limit-429" | "rate-limit";

export interface GitHubStandInOptions {
  /**
   * Tokens accepted as `Authorization: token …` (a PAT or a workflow's
   * GITHUB_TOKEN). Undefined: any non-empty token is accepted. Installation
   * tokens the stand-in issued are always accepted.
   */
  tokens?: string[];
  /** Enables GitHub App authentication: JWTs must verify with publicKey and carry iss = appId. */
  app?: {
    appId: number;
    publicKey: string | KeyObject;
    /** "owner/repo" → installation id. */
    installations: Record<string, number>;
  };
  /**
   * Enforce GitHub's documented limits (limits.ts cites them): per token or
   * App installation, the primary rate limit (x-ratelimit-* headers counting
   * down, 403 with remaining 0), the secondary ones (100 concurrent
   * requests, 900 points a minute per endpoint, 80 content-generating
   * requests a minute and 500 an hour; 403 "secondary rate limit" with
   * retry-after), and 1000 statuses per sha and context (422). true: GitHub's
   * numbers; an object overrides some (and the clock). Off by default: every
   * request is answered, with one shared x-ratelimit budget.
   */
  limits?: boolean | Partial<GitHubLimits>;
}

export interface RecordedRequest {
  /** Date.now() when the request arrived. */
  receivedAt: number;
  method: string;
  path: string;
  query: Record<string, string>;
  /** Request headers, without Authorization. */
  headers: Record<string, string>;
  /** How the request authenticated: "token", "installation:<id>", "app:<id>", or why not. */
  auth: string;
  body: Json | undefined;
  operationId: string | undefined;
  /** The request against GitHub's OpenAPI description and documented header/auth rules. */
  validation: Validation;
  /** Set when the answer was an injected failure. */
  injected?: FailureKind;
  /** With limits on: whose budget the request spent ("installation:<id>", "app:<id>", "token:<hash>"). */
  credential?: string;
  /** With limits on: the limit that refused the request. */
  limited?: LimitKind;
  status: number;
  /** The stand-in's own answer against the documented response schema. */
  responseValidation?: Validation;
}

export interface RecordedStatus {
  repository: string;
  sha: string;
  id: number;
  state: string;
  description: string | null;
  target_url: string | null;
  context: string;
  created_at: string;
}

export interface GitHubStandIn {
  /** Base URL to give Octokit (`baseUrl`), no trailing slash. */
  url: string;
  requests(): RecordedRequest[];
  /** Commit statuses GitHub would now show, in creation order. */
  statuses(): RecordedStatus[];
  /** Answers the next n requests with the given failure instead of handling them. */
  failNext(n: number, kind: FailureKind, options?: { retryAfterSeconds?: number }): void;
  /** Called with each status once its 201 has gone out (a test kills the dispatcher there); undefined stops it. */
  onStatusAnswered(callback: ((status: RecordedStatus) => void) | undefined): void;
  /**
   * Called with each create-status body as it arrives; "drop" closes the
   * connection without storing the status, as if the sender died before
   * GitHub got it. Undefined stops it.
   */
  onStatusRequest(callback: ((body: JsonObject) => "drop" | undefined) | undefined): void;
  close(): Promise<void>;
}

const docs = "https://docs.github.com/rest";
const rateLimit = 5000;
const maxBodyBytes = 1 << 20;
// Not in the OpenAPI description, but GitHub answers 422 "description is too long (maximum is 140 characters)".
const maxStatusDescription = 140;

interface Injection {
  kind: FailureKind;
  retryAfterSeconds: number;
}

interface Reply {
  status: number;
  body: Json;
  headers?: Record<string, string>;
}

export async function startGitHubStandIn(options: GitHubStandInOptions = {}): Promise<GitHubStandIn> {
  const api = gitHubOpenApi();
  const recorded: RecordedRequest[] = [];
  const statuses: RecordedStatus[] = [];
  const injections: Injection[] = [];
  const issuedTokens = new Map<string, number>();
  const appKey = options.app === undefined ? undefined : toKeyObject(options.app.publicKey);
  const limiter = options.limits === undefined || options.limits === false ? undefined : new GitHubLimiter(options.limits === true ? {} : options.limits);
  const rateLimitReset = Math.floor(Date.now() / 1000) + 3600;
  let used = 0;
  let nextStatusId = 1;
  let statusAnswered: ((status: RecordedStatus) => void) | undefined;
  let statusRequest: ((body: JsonObject) => "drop" | undefined) | undefined;
  let url = "";

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = new URL(request.url ?? "/", "http://standin.invalid");
    const headers = Object.fromEntries(
      Object.entries(request.headers)
        .filter(([name]) => name !== "authorization")
        .map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : (value ?? "")]),
    );
    const entry: RecordedRequest = {
      receivedAt: Date.now(),
      method: request.method ?? "GET",
      path: target.pathname,
      query: Object.fromEntries(target.searchParams),
      headers,
      auth: "none",
      body: undefined,
      operationId: undefined,
      validation: { valid: true, problems: [] },
      status: 0,
    };
    recorded.push(entry);
    used++;
    const credential = limiter?.credentialOf(request.headers.authorization, (token) => issuedTokens.get(token));
    if (credential !== undefined) {
      entry.credential = credential;
      response.once("close", limiter!.arrive(credential));
    }
    /** With limits on: the credential's own x-ratelimit-* headers. */
    let limitHeaders: Record<string, string> = {};

    const send = (reply: Reply, operation?: Operation): void => {
      entry.status = reply.status;
      if (operation !== undefined) entry.responseValidation = api.validateResponse(operation, reply.status, reply.body);
      response.writeHead(reply.status, {
        "content-type": "application/json; charset=utf-8",
        "x-github-request-id": randomBytes(8).toString("hex").toUpperCase(),
        "x-ratelimit-limit": String(rateLimit),
        "x-ratelimit-remaining": String(Math.max(rateLimit - used, 0)),
        "x-ratelimit-used": String(used),
        "x-ratelimit-reset": String(rateLimitReset),
        "x-ratelimit-resource": "core",
        ...limitHeaders,
        ...reply.headers,
      });
      response.end(JSON.stringify(reply.body));
    };

    const raw = await readBody(request);
    if (raw === "too-large") return send({ status: 413, body: { message: "Payload too large" } });
    if (raw !== undefined) {
      try {
        entry.body = JSON.parse(raw) as Json;
      } catch {
        entry.validation = { valid: false, problems: ["body: not valid JSON"] };
        return send({ status: 400, body: { message: "Problems parsing JSON", documentation_url: docs } });
      }
    }

    const match = api.match(entry.method, target.pathname);
    if (match === undefined) {
      entry.validation = { valid: false, problems: [`no GitHub operation for ${entry.method} ${target.pathname}`] };
      return send({ status: 404, body: { message: "Not Found", documentation_url: docs } });
    }
    const { operation } = match;
    entry.operationId = operation.operationId;

    const auth = await authenticate(request.headers.authorization, operation);
    entry.auth = auth.principal;
    const checks = [
      headerProblems(request, entry.body !== undefined),
      auth.problems,
      api.validateParameters(match, target.searchParams).problems,
      api.validateBody(operation, entry.body).problems,
      extraRules(operation, entry.body),
    ];
    const problems = checks.flat();
    entry.validation = { valid: problems.length === 0, problems };

    const injection = injections.shift();
    if (injection !== undefined) {
      entry.injected = injection.kind;
      return send(injectedFailure(injection));
    }
    if (checks[0]!.some((p) => p.startsWith("user-agent"))) {
      return send({
        status: 403,
        body: {
          message:
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).",
        },
      });
    }
    if (auth.problems.length > 0) {
      return send({ status: 401, body: { message: auth.message, documentation_url: docs } });
    }
    if (limiter !== undefined && credential !== undefined) {
      const admitted = limiter.admit(credential, entry.method, operation.operationId);
      limitHeaders = admitted.headers;
      if (admitted.refused !== undefined) {
        entry.limited = admitted.refused.kind;
        return send(admitted.refused);
      }
    }
    if (!entry.validation.valid) {
      return send(
        {
          status: 422,
          body: {
            message: "Validation Failed",
            errors: problems.map((message) => ({ resource: operation.operationId, code: "invalid", message })),
            documentation_url: docs,
          },
        },
      );
    }
    if (operation.operationId === "repos/create-commit-status" && statusRequest?.((entry.body ?? {}) as JsonObject) === "drop") {
      entry.status = -1;
      response.destroy();
      return;
    }
    const before = statuses.length;
    const reply = answer(operation, match, entry.body as JsonObject | undefined, entry.query);
    const created = statuses.length > before ? statuses.at(-1) : undefined;
    if (created && statusAnswered) {
      const callback = statusAnswered;
      response.once("finish", () => callback(structuredClone(created)));
    }
    send(reply, reply.status < 400 ? operation : undefined);
  }

  function answer(operation: Operation, match: OperationMatch, body: JsonObject | undefined, query: Record<string, string> = {}): Reply {
    const { owner = "", repo = "" } = match.pathParams;
    switch (operation.operationId) {
      case "repos/create-commit-status": {
        const sha = match.pathParams.sha ?? "";
        if (limiter !== undefined && !limiter.admitStatus(`${owner}/${repo}`, sha, (body?.context as string | undefined) ?? "default")) return tooManyStatuses;
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
        const status: RecordedStatus = {
          repository: `${owner}/${repo}`,
          sha,
          id: nextStatusId++,
          state: String(body?.state),
          description: (body?.description as string | null | undefined) ?? null,
          target_url: (body?.target_url as string | null | undefined) ?? null,
          context: (body?.context as string | undefined) ?? "default",
          created_at: now,
        };
        statuses.push(status);
        const location = `${url}/repos/${owner}/${repo}/statuses/${sha}`;
        const { repository: _repository, sha: _sha, ...fields } = status;
        return {
          status: 201,
          headers: { location },
          body: {
            ...api.exampleResponse(operation, 201),
            ...fields,
            url: location,
            node_id: Buffer.from(`06:Status${status.id}`).toString("base64"),
            updated_at: now,
          },
        };
      }
      case "apps/get-repo-installation": {
        const id = installationFor(`${owner}/${repo}`);
        if (id === undefined) return notFound();
        const example = api.exampleResponse(operation, 200);
        return {
          status: 200,
          body: {
            ...example,
            id,
            app_id: options.app!.appId,
            account: { ...(example.account as JsonObject), login: owner },
            access_tokens_url: `${url}/app/installations/${id}/access_tokens`,
          },
        };
      }
      case "apps/create-installation-access-token": {
        const id = Number(match.pathParams.installation_id);
        if (!Object.values(options.app?.installations ?? {}).includes(id)) return notFound();
        const token = `ghs_${randomBytes(18).toString("hex")}`;
        issuedTokens.set(token, id);
        return {
          status: 201,
          body: {
            token,
            expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
            permissions: (body?.permissions as JsonObject | undefined) ?? { metadata: "read", statuses: "write" },
            repository_selection: "all",
          },
        };
      }
      case "repos/get": {
        // What the doctor reads (dispatcher/doctor/github-check.ts): the
        // repository as its token sees it; every accepted token may push.
        const example = api.exampleResponse(operation, 200);
        return {
          status: 200,
          body: { ...example, name: repo, full_name: `${owner}/${repo}`, permissions: { admin: false, maintain: false, push: true, triage: true, pull: true } },
        };
      }
      case "repos/list-commit-statuses-for-ref": {
        // Newest first, as GitHub lists them; one page (per_page, default 30, at most 100).
        const ref = match.pathParams.ref ?? "";
        const perPage = Math.min(Number(query.per_page ?? 30) || 30, 100);
        const example = ((api.exampleResponse(operation, 200) as unknown as JsonObject[] | undefined) ?? [])[0] ?? {};
        const mine = statuses.filter((s) => s.repository.toLowerCase() === `${owner}/${repo}`.toLowerCase() && s.sha === ref).reverse().slice(0, perPage);
        return {
          status: 200,
          body: mine.map(({ repository: _repository, sha, ...fields }) => ({
            ...example,
            ...fields,
            url: `${url}/repos/${owner}/${repo}/statuses/${sha}`,
            node_id: Buffer.from(`06:Status${fields.id}`).toString("base64"),
            updated_at: fields.created_at,
          })),
        };
      }
      default:
        return { status: 404, body: { message: `the stand-in does not implement ${operation.operationId}`, documentation_url: docs } };
    }
  }

  function installationFor(repository: string): number | undefined {
    const wanted = repository.toLowerCase();
    for (const [name, id] of Object.entries(options.app?.installations ?? {})) if (name.toLowerCase() === wanted) return id;
    return undefined;
  }

  async function authenticate(
    header: string | undefined,
    operation: Operation,
  ): Promise<{ principal: string; problems: string[]; message: string }> {
    const [scheme = "", credential = ""] = (header ?? "").split(/\s+/, 2);
    const fail = (principal: string, problem: string, message = "Bad credentials") => ({ principal, problems: [`authorization: ${problem}`], message });
    if (header === undefined || credential === "") return fail("none", "missing", "Requires authentication");
    if (!/^(token|bearer)$/i.test(scheme)) return fail("invalid", `unknown scheme ${scheme}`);
    if (operation.requiresAppJwt) {
      // GitHub: "You must use a JWT to access this endpoint", and only as Bearer.
      if (scheme.toLowerCase() !== "bearer" || options.app === undefined || appKey === undefined) {
        return fail("invalid", `${operation.operationId} needs an App JWT as Bearer`, "A JSON web token could not be decoded");
      }
      try {
        const { payload } = await jwtVerify(credential, appKey, { algorithms: ["RS256"] });
        if (String(payload.iss) !== String(options.app.appId)) return fail("invalid", `JWT iss ${String(payload.iss)} is not the App id`);
        // GitHub refuses a JWT whose expiry is more than 10 minutes ahead.
        if (payload.exp === undefined || payload.exp > Date.now() / 1000 + 600 + 60) return fail("invalid", "JWT exp is missing or more than 10 minutes ahead");
        return { principal: `app:${options.app.appId}`, problems: [], message: "" };
      } catch (error) {
        return fail("invalid", `JWT does not verify (${(error as Error).message})`, "A JSON web token could not be decoded");
      }
    }
    const installation = issuedTokens.get(credential);
    if (installation !== undefined) return { principal: `installation:${installation}`, problems: [], message: "" };
    if (options.tokens === undefined ? credential.split(".").length !== 3 : options.tokens.includes(credential)) {
      return { principal: "token", problems: [], message: "" };
    }
    return fail("invalid", "token not recognised");
  }

  function injectedFailure(injection: Injection): Reply {
    const reset = String(Math.floor(Date.now() / 1000) + injection.retryAfterSeconds);
    switch (injection.kind) {
      case "server-error":
        return { status: 500, body: { message: "Server Error" } };
      case "bad-gateway":
        // What a failed hop in front of the API answers (the fault suite's bursts).
        return { status: 502, body: { message: "Server Error" } };
      case "secondary-rate-limit":
        // As GitHub sends it: 403, retry-after, and a primary budget that is not exhausted.
        return {
          status: 403,
          headers: { "retry-after": String(injection.retryAfterSeconds) },
          body: {
            message:
              "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
          },
        };
      case "secondary-rate-limit-429":
        // GitHub documents "a 403 or 429 response" for a secondary limit; this is the 429.
        return {
          status: 429,
          headers: { "retry-after": String(injection.retryAfterSeconds) },
          body: {
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits`,
          },
        };
      case "rate-limit":
        return {
          status: 403,
          headers: { "x-ratelimit-remaining": "0", "x-ratelimit-used": String(rateLimit), "x-ratelimit-reset": reset },
          body: {
            message: "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID 0000.",
            documentation_url: `${docs}/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit`,
          },
        };
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end(JSON.stringify({ message: `stand-in bug: ${(error as Error).message}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests: () => structuredClone(recorded),
    statuses: () => structuredClone(statuses),
    onStatusAnswered: (callback) => {
      statusAnswered = callback;
    },
    onStatusRequest: (callback) => {
      statusRequest = callback;
    },
    failNext(n, kind, failureOptions = {}) {
      for (let i = 0; i < n; i++) injections.push({ kind, retryAfterSeconds: failureOptions.retryAfterSeconds ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/**
 * Header rules GitHub documents outside the OpenAPI description: a
 * User-Agent on every request, a JSON media type in Accept, and JSON bodies.
 */
function headerProblems(request: IncomingMessage, hasBody: boolean): string[] {
  const problems: string[] = [];
  if (!request.headers["user-agent"]) problems.push("user-agent: missing (GitHub rejects requests without one)");
  const accept = request.headers.accept;
  if (!accept) problems.push("accept: missing (send application/vnd.github+json)");
  else if (!/application\/(vnd\.github[a-z0-9.-]*(\+json)?|json)|\*\/\*/i.test(accept)) {
    problems.push(`accept: ${accept} is not a GitHub JSON media type`);
  }
  if (hasBody && !/^application\/json\b/i.test(request.headers["content-type"] ?? "")) {
    problems.push(`content-type: ${request.headers["content-type"] ?? "missing"}; GitHub bodies are application/json`);
  }
  return problems;
}

function extraRules(operation: Operation, body: Json | undefined): string[] {
  if (operation.operationId !== "repos/create-commit-status") return [];
  const description = (body as JsonObject | undefined)?.description;
  if (typeof description === "string" && [...description].length > maxStatusDescription) {
    return [`body.description: is too long (maximum is ${maxStatusDescription} characters)`];
  }
  return [];
}

function notFound(): Reply {
  return { status: 404, body: { message: "Not Found", documentation_url: docs } };
}

async function readBody(request: IncomingMessage): Promise<string | undefined | "too-large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) return "too-large";
    chunks.push(chunk as Buffer);
  }
  return size === 0 ? undefined : Buffer.concat(chunks).toString("utf8");
}

function toKeyObject(key: string | KeyObject): KeyObject {
  return typeof key === "string" ? createPublicKey(key) : key;
}
