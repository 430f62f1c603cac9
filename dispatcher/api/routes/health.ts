import type { FastifyInstance } from "fastify";
import type { Executor } from "../../executor.js";
import type { Metrics } from "../../metrics.js";

export function healthRoutes(app: FastifyInstance, deps: { executor: Executor; metrics: Metrics; metricsOnOwnPort: boolean }): void {
  app.get("/healthz", { schema: { summary: "Liveness: the process answers", hide: false } }, async () => ({ ok: true }));
  app.get("/readyz", { schema: { summary: "Readiness: the executor can take builds (caches synced)" } }, async (_request, reply) => {
    const ready = await deps.executor.ready();
    return reply.code(ready ? 200 : 503).send({ ok: ready, executor: deps.executor.kind });
  });
  // With metrics.port set, /metrics lives on that port alone (metrics-server.ts), not beside the public API.
  if (deps.metricsOnOwnPort) return;
  app.get("/metrics", { schema: { summary: "Prometheus metrics", produces: ["text/plain"] } }, async (_request, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
