// The OpenAPI description as the server generates it from its route schemas,
// the contract's among them (build request, build state, error body:
// dispatcher/protocol/). docs/openapi.json is this, committed; a unit test
// fails when they differ. Run `npx tsx dispatcher/api/openapi-document.ts >
// docs/openapi.json` after changing a route or the protocol.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { resolveConfig } from "../config/validate.js";
import { ContextStore } from "../contexts/context-store.js";
import type { Executor } from "../executor.js";
import { createMetrics } from "../metrics.js";
import { buildServer } from "./server.js";

export async function openApiDocument(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), "dh-openapi-"));
  try {
    const config = resolveConfig(
      { publicUrl: "http://dockhand.example", executor: "local", contexts: { dir, signingKey: "x".repeat(32) } },
      {},
      "openapi",
    );
    // Routes are registered, never called: the document needs no executor that runs builds.
    const executor = documentOnlyExecutor;
    const app = await buildServer({ config, store: await ContextStore.create({ dir, ttlSeconds: 60 }), executor, metrics: createMetrics() });
    await app.ready();
    const document = app.swagger();
    await app.close();
    return document;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const notForBuilds = () => {
  throw new Error("the OpenAPI document is generated without an executor: nothing can be built here");
};
const documentOnlyExecutor: Executor = {
  kind: "local",
  where: "nowhere (OpenAPI document)",
  start: async () => undefined,
  stop: async () => undefined,
  submit: notForBuilds,
  get: notForBuilds,
  list: notForBuilds,
  cancel: notForBuilds,
  logs: notForBuilds,
  platformPhases: () => [],
  ready: async () => false,
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(`${JSON.stringify(await openApiDocument(), null, 2)}\n`);
}
