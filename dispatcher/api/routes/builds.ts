import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import type { Config } from "../../config/schema.js";
import type { ContextStore } from "../../contexts/context-store.js";
import { signContextUrl } from "../../contexts/signed-url.js";
import { RequestError } from "../../protocol/errors.js";
import type { Executor } from "../../executor.js";
import type { Metrics } from "../../metrics.js";
import { planBuild } from "../../plan/build-plan.js";
import { buildIdFromKey, buildIdFromRandom } from "../../plan/names.js";
import type { Identity } from "../../auth/identity.js";
import { LiveConfig } from "../../config/live-config.js";
import type { PullRequestOrigins } from "../../github/pull-request-origin.js";
import { admitConcurrent, authorizePlacement } from "../../policy/repository-policy.js";
import { authorizeRequest, originOf, RepositoryGate } from "../authorize-build.js";
import { BuildRequestSchema } from "../../protocol/build-request.js";
import { validateBuildRequest } from "../../protocol/build-request-validation.js";
import { type BuildState, type BuildStateBody, BuildStateSchema } from "../../protocol/build-state.js";
import { ErrorSchema } from "../../protocol/error-body.js";
import { buildLogLines, settledState } from "../build-log-lines.js";
import type { LogStreamEvent } from "../../protocol/build-logs.js";
import { buildIdParam, notFound, parseResume } from "./build-route-params.js";

export interface BuildRoutesDeps {
  config: Config;
  store: ContextStore;
  executor: Executor;
  metrics: Metrics;
  /** The policy and secrets as last (re)loaded; default: config, never reloaded. */
  live?: LiveConfig;
  /** Asks GitHub where a pull request's head lives (fork check). */
  pullRequests?: PullRequestOrigins;
  /** Running (unfinished) platform builds of a repository, for policy maxConcurrentBuilds; unset: no limit. */
  activeJobs?: (repository: string) => Promise<number>;
}

const IdParams = Type.Object({ id: Type.String({ description: "Build id, as returned by POST /v1/builds." }) });

export function buildRoutes(app: FastifyInstance, deps: BuildRoutesDeps): void {
  const { config, store, executor, metrics } = deps;
  const live = deps.live ?? new LiveConfig(config);
  const gate = new RepositoryGate();
  // What every answer carries: the contract's body, the executor's state plus its two URLs.
  const present = (build: BuildState): BuildStateBody => ({
    ...build,
    url: `${config.publicUrl}/v1/builds/${build.id}`,
    logsUrl: `${config.publicUrl}/v1/builds/${build.id}/logs`,
  });

  app.post(
    "/v1/builds",
    {
      schema: {
        summary: "Request a build: one Job per platform; answers once every Job is stored",
        security: [{ oidc: [] }, { sharedSecret: [] }],
        body: BuildRequestSchema,
        response: { 202: BuildStateSchema, 200: BuildStateSchema, "4xx": ErrorSchema },
      },
      // validateBuildRequest checks the raw body itself: fastify's validator
      // would coerce types and drop unknown fields, hiding typos from the user.
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
      let buildRequest;
      try {
        buildRequest = validateBuildRequest(request.body);
      } catch (err) {
        if (err instanceof RequestError) metrics.buildsRejected.inc({ field: err.field.replace(/\[\d+\]|\..*$/g, "") });
        throw err;
      }
      // The access hook authenticated the request; who it is decides what it may build.
      const identity: Identity = request.identity ?? { kind: "anonymous" };
      const grant = await authorizeRequest(identity, buildRequest, live.current, deps.pullRequests);
      if (!(await store.has(buildRequest.context))) {
        throw new RequestError({
          error: `context: ${buildRequest.context} has not been uploaded`,
          field: "context",
          hint: "PUT the tar.gz to /v1/contexts/{sha256} first (the Action does this), then send the build again",
        });
      }
      const dockerfile = (await store.readFile(buildRequest.context, buildRequest.file)).toString("utf8");
      const buildId = buildRequest.idempotencyKey
        ? buildIdFromKey(buildRequest.repository, buildRequest.idempotencyKey, config.contexts.signingKey)
        : buildIdFromRandom(randomBytes(10));
      // The URL must outlive the build: the pod fetches it when its build step starts.
      const expiresAt = new Date(Date.now() + (config.limits.activeDeadlineSeconds + 3600) * 1000);
      const contextUrl = signContextUrl({ publicUrl: config.publicUrl, digest: buildRequest.context, buildId, expiresAt, key: config.contexts.signingKey });
      const planned = planBuild({ request: buildRequest, config, dockerfile, buildId, contextUrl });
      authorizePlacement(identity, planned, grant.rule);
      const plan = { ...planned, origin: originOf(identity, buildRequest), registrySecret: grant.registrySecret };
      const submit = () => executor.submit(plan, buildRequest.githubToken, buildRequest.secrets);
      const limit = grant.rule?.rule.maxConcurrentBuilds;
      const activeJobs = deps.activeJobs;
      // Only a repository with a limit counts then creates, one request at a
      // time; any other's requests create their Jobs side by side (run one
      // behind another, a burst of 32 waited 32 Job creations for the last).
      const { build, created } =
        limit === undefined || !activeJobs
          ? await submit()
          : await gate.run(plan.repository, async () => {
              // A retry of a build that exists already creates nothing: it is never refused.
              const existing = buildRequest.idempotencyKey ? await executor.get(buildId) : undefined;
              if (!existing) admitConcurrent(grant.rule!, plan.repository, await activeJobs(plan.repository), plan.platforms.length);
              return submit();
            });
      if (created) metrics.buildsAccepted.inc({ executor: executor.kind });
      request.log.info(
        { buildId, repository: plan.repository, sha: plan.sha, created, platforms: plan.platforms.map((p) => ({ platform: p.platform.request, builder: p.builder, reason: p.reason })) },
        created ? "build accepted" : "build request repeated; returning the existing build",
      );
      return reply.code(created ? 202 : 200).send(present(build));
    },
  );

  app.get(
    "/v1/builds/:id",
    { schema: { summary: "State of a build, per platform", params: IdParams, response: { 200: BuildStateSchema, "4xx": ErrorSchema } } },
    async (request, reply) => {
      const build = await executor.get(buildIdParam(request.params));
      if (!build) return reply.code(404).send(notFound(buildIdParam(request.params)));
      return present(build);
    },
  );

  app.delete(
    "/v1/builds/:id",
    { schema: { summary: "Cancel a build: its pods are stopped and its Jobs kept, readable, for limits.ttlSecondsAfterFinished; each platform whose pending status went out gets error \"Cancelled\", one whose pending never went out gets no status", security: [{ oidc: [] }, { sharedSecret: [] }], params: IdParams, response: { 202: BuildStateSchema, "4xx": ErrorSchema } } },
    async (request, reply) => {
      const id = buildIdParam(request.params);
      const build = await executor.cancel(id, "cancelled through the API");
      if (!build) return reply.code(404).send(notFound(id));
      request.log.info({ buildId: id }, "build cancelled");
      return reply.code(202).send(present(build));
    },
  );

  app.get(
    "/v1/builds/:id/logs",
    {
      schema: {
        summary: "The build's logs as NDJSON lines {platform, step, n, line}; follow=1 streams until the build ends",
        params: IdParams,
        querystring: Type.Object({
          follow: Type.Optional(Type.Union([Type.Literal("1"), Type.Literal("0"), Type.Literal("true"), Type.Literal("false")])),
          resume: Type.Optional(Type.String({ description: 'Lines already seen, "<slug>/<step>:<n>" comma-separated; those are skipped.', maxLength: 2048 })),
        }),
        produces: ["application/x-ndjson"],
        response: { "4xx": ErrorSchema },
      },
    },
    async (request, reply) => {
      const id = buildIdParam(request.params);
      const query = request.query as { follow?: string; resume?: string };
      if (!(await executor.get(id))) return reply.code(404).send(notFound(id));
      const abort = new AbortController();
      request.raw.on("close", () => abort.abort());
      const follow = query.follow === "1" || query.follow === "true";
      const lines = buildLogLines(executor, id, { follow, resume: parseResume(query.resume), signal: abort.signal });
      const ndjson = Readable.from(
        (async function* () {
          try {
            for await (const line of lines) yield `${JSON.stringify(line)}\n`;
            // Followed, the stream ends only once the build is final, with that state: never "running".
            const end = follow ? await settledState(executor, id, abort.signal) : await executor.get(id);
            yield `${JSON.stringify({ event: "end", state: end?.state ?? "unknown" } satisfies LogStreamEvent)}\n`;
          } catch (err) {
            if (!abort.signal.aborted) {
              request.log.warn({ buildId: id, err: String(err) }, "log stream broke");
              yield `${JSON.stringify({ event: "error", error: "the log stream broke; reconnect with resume to continue" } satisfies LogStreamEvent)}\n`;
            }
          }
        })(),
      );
      return reply.type("application/x-ndjson").header("cache-control", "no-store").header("x-accel-buffering", "no").send(ndjson);
    },
  );
}

