// A followed log stream ends when the build's state is final, with that
// state, and not before. Its containers' logs end first (the Job controller
// then marks the Job done, the reconciler reads the pushed image back), and a
// stream that ended there said "running": the Action asked again, waited 3 s
// and reopened it (issue 15: 4 of 31 runs). Many small pushed builds, each
// followed as the Action follows it; its client logs every reopen, and none
// may happen. Bounded: 16 builds, 4 at a time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretAuth } from "../../action/auth.js";
import { DispatcherClient } from "../../action/client.js";
import { followLogs } from "../../action/logs.js";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import type { BuildStateBody } from "../../dispatcher/protocol/build-state.js";
import { type Bed, bedSharedSecret, buildRequest, ctx, postBuild, setUpBed, startBedDispatcher, uploadContext } from "./harness.js";

const builds = 16;
const concurrent = 4;

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-logend");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

describe("GET /v1/builds/{id}/logs?follow=1", () => {
  it(`ends once the build is final, with that state: ${builds} small builds, none reopens its stream`, { timeout: 300_000 }, async () => {
    const client = new DispatcherClient({ baseUrl: dispatcher.url, auth: secretAuth(bedSharedSecret) });
    const runs: { id: string; end: string; after: string; notes: string[]; lines: number }[] = [];
    const run = async (i: number) => {
      const nonce = `${Date.now()}-${i}`;
      const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY nonce.txt /nonce.txt\nRUN echo built ${nonce}\n`, { "nonce.txt": nonce }));
      const res = await postBuild(dispatcher.url, buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/logend:${i}`], idempotencyKey: `logend/${nonce}` }));
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const build = res.body as BuildStateBody;
      const notes: string[] = [];
      let end = "none";
      let lines = 0;
      for await (const event of followLogs(client, build, { log: (m) => notes.push(m), reconnectDelayMs: 200, waitDelayMs: 200 })) {
        if (event.kind === "line") lines++;
        else end = event.state;
      }
      // What GET answers right after the end event: the same final state.
      const after = (await client.getBuild(build.id))?.state ?? "gone";
      runs.push({ id: build.id, end, after, notes, lines });
    };
    try {
      for (let next = 0; next < builds; next += concurrent) {
        await Promise.all(Array.from({ length: Math.min(concurrent, builds - next) }, (_, k) => run(next + k)));
      }
    } finally {
      client.close();
    }
    expect(runs.filter((r) => r.notes.length > 0)).toEqual([]);
    expect(runs.map((r) => [r.end, r.after])).toEqual(runs.map(() => ["succeeded", "succeeded"]));
    expect(runs.every((r) => r.lines > 0)).toBe(true);
  });
});
