import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { ContextStore } from "../contexts/context-store.js";
import type { Executor } from "../executor.js";
import type { Metrics } from "../metrics.js";
import { errorHandler } from "./error-mapping.js";
import { buildRoutes } from "./routes/builds.js";
import { contextRoutes } from "./routes/contexts.js";
import { healthRoutes } from "./routes/health.js";

export interface ServerDeps {
  config: Config;
  store: ContextStore;
  executor: Executor;
  metrics: Metrics;
  /** Structured JSON logs; each request logs with its own child (reqId). */
  logger?: Logger;
}

/** The dispatcher's HTTP API. Pure wiring: every route's work lives in its own module. */
export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    // Build requests are small; contexts stream past this limit through their own parser.
    bodyLimit: 1 << 20,
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "dockhand dispatcher", version: "1", description: "Build container images, Windows above all, on your own Kubernetes cluster." },
    },
  });
  app.setErrorHandler(errorHandler);
  app.addHook("onResponse", async (request, reply) => {
    deps.metrics.httpRequests.inc({ method: request.method, route: request.routeOptions.url ?? "unknown", status: String(reply.statusCode) });
  });
  contextRoutes(app, { store: deps.store, maxBytes: deps.config.contexts.maxBytes, signingKey: deps.config.contexts.signingKey, metrics: deps.metrics });
  buildRoutes(app, deps);
  healthRoutes(app, deps);
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  return app;
}
