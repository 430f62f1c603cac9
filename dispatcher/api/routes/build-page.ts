// The build page and its event stream.
//
// The page lives at the build's own URL, GET /v1/builds/{id}, chosen by
// content negotiation: a browser (Accept prefers text/html) gets HTML, every
// other client the JSON it always got. So the commit status target_url,
// which is that URL (plan/build-plan.ts), needs no change: statuses already
// on GitHub, and those of builds still running across an upgrade, lead to
// the page, and API clients that follow target_url still get JSON. Responses
// vary on Accept. The HTML route is a second handler for the same path,
// picked by a route constraint, so the JSON route (routes/builds.ts) stays
// as it is.

import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import type { Config } from "../../config/schema.js";
import type { Executor, LogResume } from "../../executor.js";
import { type LogLine, resumeCursor } from "../../protocol/build-logs.js";
import type { BuildState } from "../../protocol/build-state.js";
import { escapeHtml, pagePolicy, renderBuildPage } from "../build-page/page.js";
import { isFinalPhase } from "../../protocol/phases.js";
import { ErrorSchema } from "../../protocol/error-body.js";
import { buildLogLines } from "../build-log-lines.js";
import { buildIdParam, notFound, parseResume } from "./build-route-params.js";

export interface BuildPageDeps {
  config: Config;
  executor: Executor;
}

/**
 * How often the event stream re-reads the build's state, at most. The
 * Executor interface offers no change notification, and a platform's state
 * changes (pod scheduled, Job complete, digest recorded) mostly without a log
 * line: so the stream re-reads on log lines (throttled to this) and on a
 * timer of the same period. One get() is two label-selected list calls for a
 * handful of objects; one open page costs that every few seconds, not a
 * polling client per browser hammering the API server.
 */
const stateRefreshMs = 2_000;
/** A comment this often keeps proxies from closing an idle stream (nginx's default read timeout is 60 s). */
const keepAliveMs = 15_000;
/** After the logs end, how long to wait for the Job to reach its final state (completion lags the container's exit). */
const settleTimeoutMs = 60_000;

const IdParams = Type.Object({ id: Type.String({ description: "Build id, as returned by POST /v1/builds." }) });

export function buildPageRoutes(app: FastifyInstance, deps: BuildPageDeps): void {
  const { executor, config } = deps;
  const present = (build: BuildState) => ({
    ...build,
    url: `${config.publicUrl}/v1/builds/${build.id}`,
    logsUrl: `${config.publicUrl}/v1/builds/${build.id}/logs`,
  });

  app.addConstraintStrategy({
    name: "buildPage",
    storage() {
      const handlers = new Map<string, unknown>();
      return { get: (key: string) => (handlers.get(key) ?? null) as never, set: (key: string, value: unknown) => void handlers.set(key, value) };
    },
    deriveConstraint: (req: { headers: Record<string, string | string[] | undefined> }) => (prefersHtml(req.headers.accept) ? "html" : undefined),
    // Routes without this constraint still match a browser's request: only GET /v1/builds/{id} has an HTML form.
    mustMatchWhenDerived: false,
  });
  app.addHook("onSend", async (request, reply, payload) => {
    if (request.routeOptions.url === "/v1/builds/:id") reply.header("vary", "Accept");
    return payload;
  });

  app.get(
    "/v1/builds/:id",
    { constraints: { buildPage: "html" }, schema: { hide: true, params: IdParams } },
    async (request, reply) => {
      const id = buildIdParam(request.params);
      const build = await executor.get(id);
      const nonce = randomBytes(16).toString("base64");
      reply.header("content-security-policy", pagePolicy(nonce)).header("cache-control", "no-store").header("x-content-type-options", "nosniff");
      if (!build) return reply.code(404).type("text/html; charset=utf-8").send(notFoundPage(id));
      const abort = new AbortController();
      request.raw.on("close", () => abort.abort());
      const lines: LogLine[] = [];
      for await (const line of buildLogLines(executor, id, { follow: false, resume: {}, signal: abort.signal })) lines.push(line);
      // Logs first, then the state: a build that ended meanwhile shows its
      // final state with, at worst, lines the stream then sends.
      const now = (await executor.get(id)) ?? build;
      return reply.type("text/html; charset=utf-8").send(renderBuildPage({ build: now, lines, now: new Date(), nonce }));
    },
  );

  app.get(
    "/v1/builds/:id/events",
    {
      schema: {
        summary: "Server-sent events for the build page: `state` (the build, as GET /v1/builds/{id}), `log` ({platform, step, n, line}), then `end` ({state})",
        description:
          "Each log event's id is the resume cursor; a reconnecting EventSource sends it back as Last-Event-ID and the stream continues after it.",
        params: IdParams,
        querystring: Type.Object({
          resume: Type.Optional(Type.String({ description: 'Lines already seen, "<slug>/<step>:<n>" comma-separated; those are skipped.', maxLength: 2048 })),
        }),
        produces: ["text/event-stream"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const id = buildIdParam(request.params);
      const build = await executor.get(id);
      if (!build) return reply.code(404).send(notFound(id));
      const lastEventId = request.headers["last-event-id"];
      const resume = parseResume(typeof lastEventId === "string" && lastEventId ? lastEventId : (request.query as { resume?: string }).resume);
      const stream = new PassThrough();
      void streamEvents({ request, build, resume, stream, executor, present }).finally(() => stream.end());
      return reply
        .type("text/event-stream; charset=utf-8")
        .header("cache-control", "no-store")
        .header("x-accel-buffering", "no")
        .send(stream);
    },
  );
}

interface StreamArgs {
  request: FastifyRequest;
  build: BuildState;
  resume: LogResume;
  stream: PassThrough;
  executor: Executor;
  present: (build: BuildState) => unknown;
}

async function streamEvents({ request, build, resume, stream, executor, present }: StreamArgs): Promise<void> {
  const abort = new AbortController();
  request.raw.on("close", () => abort.abort());
  const send = (event: string, data: unknown, id?: string) => {
    if (!abort.signal.aborted) stream.write(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const counts = new Map(Object.entries(resume));
  const slugOf = new Map(build.platforms.map((p) => [p.platform, p.slug]));
  let shown = "";
  let latest = build;
  let readAt = 0;
  let reading: Promise<void> | undefined;
  const showState = (next: BuildState) => {
    latest = next;
    const text = JSON.stringify(present(next));
    if (text !== shown) {
      shown = text;
      stream.write(`event: state\ndata: ${text}\n\n`);
    }
  };
  const refresh = () => {
    readAt = Date.now();
    reading ??= executor
      .get(build.id)
      .then((next) => {
        if (next && !abort.signal.aborted) showState(next);
      })
      .catch((err) => request.log.warn({ buildId: build.id, err: String(err) }, "build page: could not re-read the build"))
      .finally(() => (reading = undefined));
    return reading;
  };

  stream.write("retry: 3000\n\n");
  showState(build);
  const timer = setInterval(() => {
    if (Date.now() - readAt >= stateRefreshMs) void refresh();
  }, stateRefreshMs);
  const keepAlive = setInterval(() => stream.write(": keep-alive\n\n"), keepAliveMs);
  try {
    for await (const line of buildLogLines(executor, build.id, { follow: true, resume, signal: abort.signal })) {
      counts.set(`${slugOf.get(line.platform) ?? "unknown"}/${line.step}`, line.n);
      send("log", line, resumeCursor(counts));
      if (Date.now() - readAt >= stateRefreshMs) void refresh();
    }
    // The containers have exited; the Job's end (and the digest the
    // reconciler records) follows within moments.
    const deadline = Date.now() + settleTimeoutMs;
    await refresh();
    while (!isFinalPhase(latest.state) && !abort.signal.aborted && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, stateRefreshMs));
      await refresh();
    }
    if (isFinalPhase(latest.state)) send("end", { state: latest.state });
    // Otherwise the stream closes; the browser reconnects with its cursor and waits again.
  } catch (err) {
    if (!abort.signal.aborted) request.log.warn({ buildId: build.id, err: String(err) }, "build page: event stream broke; the browser reconnects");
  } finally {
    clearInterval(timer);
    clearInterval(keepAlive);
    await reading;
  }
}

/**
 * True when the client ranks HTML above JSON: browsers send
 * "text/html,…,*\/*;q=0.8"; fetch, curl and the Action send "*\/*" or
 * "application/json", and keep getting JSON.
 */
export function prefersHtml(accept: string | string[] | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const range of (Array.isArray(accept) ? accept.join(",") : accept).split(",")) {
    const [type = "", ...params] = range.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    const mediaType = type.trim();
    if (mediaType === "text/html" || mediaType === "application/xhtml+xml") html = Math.max(html, q);
    if (mediaType === "application/json" || mediaType === "application/*" || mediaType === "*/*") json = Math.max(json, q);
  }
  return html > json;
}

function notFoundPage(id: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Build not found · dockhand</title></head><body><h1>Build ${escapeHtml(id)} not found</h1><p>A finished or cancelled build is kept for limits.ttlSecondsAfterFinished after it ends, then deleted: check the id, or whether it ended longer ago than that.</p></body></html>\n`;
}

