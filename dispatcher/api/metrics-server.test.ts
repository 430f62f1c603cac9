import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../metrics.js";
import { type MetricsServer, startMetricsServer } from "./metrics-server.js";

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

describe("the metrics server (metrics.port)", () => {
  it("answers GET /metrics with the registry's text, and 404 for anything else", async () => {
    const metrics = createMetrics();
    metrics.leader.set(1);
    const server = await startMetricsServer(metrics, "127.0.0.1", 0);
    servers.push(server);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.registry.contentType);
    expect(await res.text()).toContain("dockhand_leader 1");
    for (const [method, path] of [["GET", "/"], ["GET", "/v1/builds"], ["POST", "/metrics"]] as const) {
      expect((await fetch(`${server.url}${path}`, { method })).status, `${method} ${path}`).toBe(404);
    }
  });

  it("refuses a port already taken, naming the key to change", async () => {
    const first = await startMetricsServer(createMetrics(), "127.0.0.1", 0);
    servers.push(first);
    const port = Number(new URL(first.url).port);
    await expect(startMetricsServer(createMetrics(), "127.0.0.1", port)).rejects.toThrow(
      new RegExp(`^metrics\\.port ${port} on 127\\.0\\.0\\.1: listen EADDRINUSE.*pick a free port for metrics\\.port \\(DOCKHAND_METRICS_PORT\\)$`),
    );
  });
});
