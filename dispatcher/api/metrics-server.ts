// /metrics on a port of its own (config metrics.port): the ServiceMonitor
// scrapes it there, and the Service that runners and build pods reach need
// not carry it. Plain node:http: one route, no auth, nothing to parse.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "../metrics.js";

export interface MetricsServer {
  /** Where it answers, e.g. http://127.0.0.1:9090. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("only GET /metrics is served on this port\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(request.method === "HEAD" ? undefined : text),
      (err: unknown) => response.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`collecting metrics failed: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`metrics.port ${port} on ${host}: ${err.message}; pick a free port for metrics.port (DOCKHAND_METRICS_PORT)`)));
    server.listen(port, host, () => {
      server.removeAllListeners("error");
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Scrapes are short; a keep-alive connection from Prometheus must not hold the shutdown.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
