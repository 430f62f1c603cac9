// The dispatcher's HTTP API as the Action uses it (docs/openapi.json).
// Every request is retried on what a flaky network or a restarting
// dispatcher produces — connection errors, 429 and 5xx — with exponential
// backoff and jitter, waiting what Retry-After asks for when it is given.
// POST /v1/builds is safe to retry: the idempotency key turns a repeat into
// the same build. node:http, not fetch: a streamed upload with a
// Content-Length (the dispatcher refuses an oversized context from it) and
// connection error codes to decide on. Its agent comes from
// @actions/http-client, so a runner's HTTP(S)_PROXY and NO_PROXY are honoured
// exactly as every official action honours them.

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import { HttpClient } from "@actions/http-client";
import { getProxyUrl } from "@actions/http-client/lib/proxy";
import type { BuildListBody } from "../dispatcher/protocol/build-list.js";
import type { BuildStateBody } from "../dispatcher/protocol/build-state.js";
import type { RequestAuth } from "./auth.js";
import { describeDispatcherError } from "./request.js";

export const userAgent = "dockhand-action/0.1";

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A longer Retry-After is cut to this, so a misconfigured proxy cannot park the step for hours. */
  maxRetryAfterMs: number;
  random: () => number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 7, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 300_000, random: Math.random };

export interface ClientOptions {
  baseUrl: string;
  auth: RequestAuth;
  retry?: Partial<RetryPolicy>;
  log?: (message: string) => void;
  /** Upload progress lines at most this often. */
  progressIntervalMs?: number;
  /** A request with no answer for this long is abandoned and retried. */
  requestTimeoutMs?: number;
  userAgent?: string;
}

/** The dispatcher answered, and said no: a 4xx other than 429. Not retried. */
export class DispatcherRequestError extends Error {
  override readonly name = "DispatcherRequestError";
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly operation: string,
  ) {
    super(`${operation}: ${describeDispatcherError(status, body)}`);
  }
  get field(): string | undefined {
    const field = (this.body as { field?: unknown } | null)?.field;
    return typeof field === "string" ? field : undefined;
  }
  /** The Dockerfile line a refusal is about, when it names one. */
  get line(): number | undefined {
    const line = (this.body as { line?: unknown } | null)?.line;
    return typeof line === "number" && Number.isInteger(line) && line >= 1 ? line : undefined;
  }
}

/** Retries ran out: the dispatcher could not be reached or kept failing. */
export class DispatcherUnavailableError extends Error {
  override readonly name = "DispatcherUnavailableError";
}

const retryableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EAI_AGAIN", "ECONNABORTED"]);

export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

export function isRetryableError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && retryableCodes.has(code);
}

/**
 * The wait before try `attempt + 1` (attempt counts from 1): Retry-After when
 * the answer has one, else base·2^(attempt-1) capped, with "equal jitter"
 * (half fixed, half random) so the matrix legs of one workflow that all hit a
 * restarting dispatcher do not come back in the same millisecond.
 */
export function retryDelayMs(attempt: number, retryAfter: string | undefined, policy: RetryPolicy, now: number = Date.now()): number {
  const fromHeader = parseRetryAfter(retryAfter, now);
  if (fromHeader !== undefined) return Math.min(fromHeader, policy.maxRetryAfterMs);
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return exponential / 2 + policy.random() * (exponential / 2);
}

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface Attempt {
  method: string;
  path: string;
  headers?: OutgoingHttpHeaders;
  /** Called once per try: a retried upload streams the file again from its start. */
  body?: () => NodeJS.ReadableStream | Buffer;
  bodySha256Hex: string;
  contentLength?: number;
  signal?: AbortSignal;
  /** false: no overall timeout (a followed log stream). */
  timeout?: boolean;
}

const emptySha256 = createHash("sha256").update("").digest("hex");

export class DispatcherClient {
  private readonly base: URL;
  private readonly policy: RetryPolicy;
  private readonly log: (message: string) => void;
  /** Only its agents are used: a tunnelling one through the runner's proxy, or a plain one. */
  private readonly agents: HttpClient;

  constructor(private readonly options: ClientOptions) {
    this.base = new URL(options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`);
    this.policy = { ...defaultRetryPolicy, ...options.retry };
    this.log = options.log ?? (() => undefined);
    this.agents = new HttpClient(options.userAgent ?? "dockhand-action");
  }

  /** Closes the agents' sockets: the step's process ends when its work does, not when an idle connection times out. */
  close(): void {
    this.agents.dispose();
  }

  /** The proxy requests to the dispatcher go through (HTTP(S)_PROXY, unless NO_PROXY or a loopback address), if any. */
  get proxy(): URL | undefined {
    return getProxyUrl(this.base);
  }

  /** HEAD /v1/contexts/{sha256}: is this context stored already? */
  async hasContext(digest: string, signal?: AbortSignal): Promise<boolean> {
    const response = await this.send("check the context", { method: "HEAD", path: `v1/contexts/${hexOf(digest)}`, bodySha256Hex: emptySha256, signal });
    response.resume();
    if (response.statusCode === 200) return true;
    if (response.statusCode === 404) return false;
    throw new DispatcherRequestError(response.statusCode ?? 0, "", "HEAD context");
  }

  /** PUT /v1/contexts/{sha256}, streamed from the file, with progress lines. */
  async uploadContext(digest: string, file: string, size: number, signal?: AbortSignal): Promise<void> {
    const progress = new UploadProgress(size, this.options.progressIntervalMs ?? 5000, this.log);
    const response = await this.send("upload the context", {
      method: "PUT",
      path: `v1/contexts/${hexOf(digest)}`,
      headers: { "content-type": "application/gzip" },
      contentLength: size,
      bodySha256Hex: hexOf(digest),
      body: () => {
        progress.restart();
        const stream = createReadStream(file);
        stream.on("data", (chunk) => progress.add(chunk.length));
        return stream;
      },
      signal,
    });
    const body = await readBody(response);
    if (response.statusCode !== 201 && response.statusCode !== 200) throw new DispatcherRequestError(response.statusCode ?? 0, body, "upload the context");
    progress.done();
  }

  /** POST /v1/builds: 202 a new build, 200 the same idempotency key seen before. */
  async createBuild(request: unknown, signal?: AbortSignal): Promise<{ created: boolean; build: BuildStateBody }> {
    const json = Buffer.from(JSON.stringify(request));
    const response = await this.send("request the build", {
      method: "POST",
      path: "v1/builds",
      headers: { "content-type": "application/json" },
      contentLength: json.length,
      body: () => json,
      bodySha256Hex: createHash("sha256").update(json).digest("hex"),
      signal,
    });
    const body = await readBody(response);
    if (response.statusCode !== 202 && response.statusCode !== 200) throw new DispatcherRequestError(response.statusCode ?? 0, body, "request the build");
    return { created: response.statusCode === 202, build: body as BuildStateBody };
  }

  /** GET /v1/builds/{id}; undefined once the build is gone (404). */
  async getBuild(id: string, signal?: AbortSignal): Promise<BuildStateBody | undefined> {
    const response = await this.send("read the build", { method: "GET", path: `v1/builds/${encodeURIComponent(id)}`, bodySha256Hex: emptySha256, signal });
    const body = await readBody(response);
    if (response.statusCode === 404) return undefined;
    if (response.statusCode !== 200) throw new DispatcherRequestError(response.statusCode ?? 0, body, "read the build");
    return body as BuildStateBody;
  }

  /** GET /v1/builds: one page of the builds these credentials cover, newest first (filters as protocol/build-list.ts names them). */
  async listBuilds(query: Readonly<Record<string, string | undefined>>, signal?: AbortSignal): Promise<BuildListBody> {
    const params = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const search = params.size > 0 ? `?${params}` : "";
    const response = await this.send("list the builds", { method: "GET", path: `v1/builds${search}`, bodySha256Hex: emptySha256, signal });
    const body = await readBody(response);
    if (response.statusCode !== 200) throw new DispatcherRequestError(response.statusCode ?? 0, body, "list the builds");
    return body as BuildListBody;
  }

  /** DELETE /v1/builds/{id}; undefined when the build is already gone. */
  async cancelBuild(id: string, signal?: AbortSignal): Promise<BuildStateBody | undefined> {
    const response = await this.send("cancel the build", { method: "DELETE", path: `v1/builds/${encodeURIComponent(id)}`, bodySha256Hex: emptySha256, signal });
    const body = await readBody(response);
    if (response.statusCode === 404) return undefined;
    if (response.statusCode !== 202 && response.statusCode !== 200) throw new DispatcherRequestError(response.statusCode ?? 0, body, "cancel the build");
    return body as BuildStateBody;
  }

  /** GET /v1/builds/{id}/logs?follow=1: the open NDJSON stream (connecting is retried; reading is the caller's). */
  async openLogs(id: string, resume: string, signal?: AbortSignal): Promise<IncomingMessage> {
    const query = `follow=1${resume ? `&resume=${encodeURIComponent(resume)}` : ""}`;
    const response = await this.send("follow the logs", { method: "GET", path: `v1/builds/${encodeURIComponent(id)}/logs?${query}`, bodySha256Hex: emptySha256, signal, timeout: false });
    if (response.statusCode !== 200) throw new DispatcherRequestError(response.statusCode ?? 0, await readBody(response), "follow the logs");
    return response;
  }

  /** One request, retried per the policy; answers with the first non-retryable response. */
  private async send(operation: string, attempt: Attempt): Promise<IncomingMessage> {
    let lastProblem = "";
    for (let n = 1; ; n++) {
      attempt.signal?.throwIfAborted();
      let retryAfter: string | undefined;
      try {
        const response = await this.once(attempt);
        if (!isRetryableStatus(response.statusCode ?? 0)) return response;
        retryAfter = headerValue(response.headers["retry-after"]);
        lastProblem = `HTTP ${response.statusCode}${await shortBody(response)}`;
      } catch (err) {
        if (attempt.signal?.aborted || !isRetryableError(err)) throw err;
        lastProblem = `${(err as NodeJS.ErrnoException).code}: ${(err as Error).message}`;
      }
      if (n >= this.policy.attempts) {
        throw new DispatcherUnavailableError(`${operation}: the dispatcher at ${this.base.origin} failed ${n} times; last: ${lastProblem}. Check dispatcher-url and that the dispatcher is running.`);
      }
      const delay = retryDelayMs(n, retryAfter, this.policy);
      this.log(`${operation}: ${lastProblem}; retrying in ${(delay / 1000).toFixed(1)} s (try ${n + 1} of ${this.policy.attempts})${retryAfter !== undefined ? " as Retry-After asks" : ""}`);
      await sleep(delay, attempt.signal);
    }
  }

  private async once(attempt: Attempt): Promise<IncomingMessage> {
    const url = new URL(attempt.path, this.base);
    const pathWithQuery = `${url.pathname}${url.search}`;
    const authHeaders = await this.options.auth.headers(attempt.method, pathWithQuery, attempt.bodySha256Hex);
    const headers: OutgoingHttpHeaders = {
      "user-agent": this.options.userAgent ?? "dockhand-action",
      accept: "application/json, application/x-ndjson",
      ...attempt.headers,
      ...authHeaders,
    };
    if (attempt.contentLength !== undefined) headers["content-length"] = attempt.contentLength;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(url, { method: attempt.method, headers, signal: attempt.signal, agent: this.agents.getAgent(url.href) });
      const timeoutMs = this.options.requestTimeoutMs ?? 120_000;
      // Until the answer's headers arrive; a followed log stream may then stay quiet for long.
      const timer = attempt.timeout === false ? undefined : setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: "ETIMEDOUT" })), timeoutMs);
      req.on("response", (response) => {
        clearTimeout(timer);
        resolve(response);
      });
      req.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      const body = attempt.body?.();
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on("error", (err: Error) => req.destroy(err));
        body.pipe(req);
      }
    });
  }
}

/** "uploading the context: 45.2 MiB of 120.0 MiB (38%) at 9.8 MiB/s", at most every `intervalMs`. */
export class UploadProgress {
  private sent = 0;
  private started = Date.now();
  private lastReport = Date.now();

  constructor(
    private readonly total: number,
    private readonly intervalMs: number,
    private readonly log: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.restart();
  }

  restart(): void {
    this.sent = 0;
    this.started = this.now();
    this.lastReport = this.started;
  }

  add(bytes: number): void {
    this.sent += bytes;
    const now = this.now();
    if (now - this.lastReport < this.intervalMs) return;
    this.lastReport = now;
    const percent = this.total > 0 ? Math.floor((this.sent / this.total) * 100) : 100;
    this.log(`uploading the context: ${formatBytes(this.sent)} of ${formatBytes(this.total)} (${percent}%) at ${formatRate(this.sent, now - this.started)}`);
  }

  done(): void {
    const elapsed = this.now() - this.started;
    this.log(`uploaded the context: ${formatBytes(this.total)} in ${(elapsed / 1000).toFixed(1)} s (${formatRate(this.total, elapsed)})`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function formatRate(bytes: number, ms: number): string {
  return `${formatBytes(ms > 0 ? Math.round((bytes * 1000) / ms) : bytes)}/s`;
}

function hexOf(digest: string): string {
  return digest.replace(/^sha256:/, "");
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(response: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text === "" ? "" : JSON.parse(text);
  } catch {
    return text;
  }
}

async function shortBody(response: IncomingMessage): Promise<string> {
  const body = await readBody(response).catch(() => "");
  const error = (body as { error?: unknown } | null)?.error;
  const text = typeof error === "string" ? error : typeof body === "string" ? body : "";
  return text ? ` (${text.slice(0, 200)})` : "";
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
