import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { ContextStore } from "../contexts/context-store.js";
import type { Executor } from "../executor.js";
import { isFinalPhase } from "../protocol/phases.js";
import type { Metrics } from "../metrics.js";
import { githubWebhookRoutes } from "../webhooks/github-webhooks.js";
import { accessControl, hashingJsonParser } from "./access.js";
import { errorHandler } from "./error-mapping.js";
import { redactingLogger } from "./log-redaction.js";
import { requestBodies } from "./request-body.js";
import { type SecurityDeps, securityFor } from "./security.js";
import { logBuildRequests } from "../logging.js";
import { buildPageRoutes } from "./routes/build-page.js";
import { buildRoutes } from "./routes/builds.js";
import { buildListRoutes, buildsPageRoute } from "./routes/build-list.js";
import { contextRoutes } from "./routes/contexts.js";
import { healthRoutes } from "./routes/health.js";

export interface ServerDeps {
  config: Config;
  store: ContextStore;
  executor: Executor;
  metrics: Metrics;
  /** Structured JSON logs; each request logs with its own child (reqId). */
  logger?: Logger;
  /** Authentication, policy, webhooks' cancelling; default: built from config (dispatcher.ts adds the executor's parts). */
  security?: SecurityDeps;
}

/** The dispatcher's HTTP API. Pure wiring: every route's work lives in its own module. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const security = deps.security ?? securityFor(deps.config);
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: redactingLogger(deps.logger) as FastifyBaseLogger } : { logger: false }),
    // Build requests are small; contexts stream past this limit through their own parser.
    bodyLimit: 1 << 20,
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "dockhand dispatcher", version: "1", description: "Build container images, Windows above all, on your own Kubernetes cluster." },
      components: {
        securitySchemes: {
          oidc: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A GitHub Actions OIDC token with the dispatcher's audience (auth.oidc)." },
          sharedSecret: {
            type: "apiKey",
            in: "header",
            name: "X-Hub-Signature-256",
            description: "sha256=HMAC-SHA256 of timestamp, nonce, method, path with query and the sha256 of the exact body bytes received (of the empty string without a body) with a shared secret (auth.sharedSecrets), with X-Dockhand-Timestamp and X-Dockhand-Nonce.",
          },
        },
      },
    },
  });
  logBuildRequests(app);
  app.setErrorHandler(errorHandler);
  requestBodies(app);
  hashingJsonParser(app);
  accessControl(app, { authenticator: security.authenticator, live: security.live, executor: deps.executor });
  app.addHook("onResponse", async (request, reply) => {
    deps.metrics.httpRequests.inc({ method: request.method, route: request.routeOptions.url ?? "unknown", status: String(reply.statusCode) });
  });
  contextRoutes(app, {
    store: deps.store,
    maxBytes: deps.config.contexts.maxBytes,
    maxUnpackedBytes: deps.config.contexts.maxUnpackedBytes,
    signingKey: deps.config.contexts.signingKey,
    metrics: deps.metrics,
    buildEnded: async (buildId) => {
      const build = await deps.executor.get(buildId);
      return build === undefined || isFinalPhase(build.state);
    },
  });
  buildRoutes(app, { ...deps, live: security.live, pullRequests: security.pullRequests, activeJobs: security.activeJobs });
  buildListRoutes(app, deps);
  githubWebhookRoutes(app, { live: security.live, canceller: security.canceller, log: app.log });
  buildPageRoutes(app, deps);
  buildsPageRoute(app, deps);
  healthRoutes(app, { ...deps, metricsOnOwnPort: deps.config.metrics.port !== undefined });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}
