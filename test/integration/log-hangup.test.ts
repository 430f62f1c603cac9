// Followers of a build's log hang up all the time: a runner cancelled, a
// proxy timing out, a closed browser tab. Each must end only its own stream;
// none may leave an error nobody hears, which would take the dispatcher down.
import type { V1Pod } from "@kubernetes/client-node";
import { connect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { containerLogLines, stepsOf } from "../../dispatcher/kube/pod-logs.js";
import { watchUntil } from "../bed/kube.js";
import { type Bed, buildRequest, ctx, postBuild, setUpBed, startBedDispatcher, uploadContext } from "./harness.js";

let bed: Bed;
let dispatcher: Dispatcher;
let buildId = "";
let pod: V1Pod;
let closed = false;
const uncaught: unknown[] = [];
const record = (err: unknown) => uncaught.push(err);

beforeAll(async () => {
  bed = await setUpBed("dh-hangup");
  dispatcher = await startBedDispatcher(bed, (c) => ({ ...c, listen: { ...c.listen, shutdownGraceSeconds: 2 } }));
  // Long enough to outlast every hang-up below; cancelled in afterAll.
  const context = await uploadContext(
    dispatcher.url,
    ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN for i in $(seq 1 600); do echo hangup-${Date.now()}-line-$i; sleep 0.1; done\n`),
  );
  const res = await postBuild(dispatcher.url, buildRequest(context, { platforms: ["linux/amd64"], push: false, idempotencyKey: `hangup/${Date.now()}` }));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  buildId = res.body.id;
  pod = await watchUntil<V1Pod, V1Pod>(
    bed.k.kc,
    `/api/v1/namespaces/${bed.namespace}/pods`,
    { labelSelector: `dockhand.dev/build-id=${buildId}` },
    (p) => (p.status?.containerStatuses?.find((s) => s.name === stepsOf(p).at(-1))?.state?.running ? p : undefined),
    120_000,
  );
  process.on("uncaughtExceptionMonitor", record);
});

afterEach(() => {
  const heard = uncaught.splice(0).map(String);
  expect(heard).toEqual([]);
});

afterAll(async () => {
  process.off("uncaughtExceptionMonitor", record);
  if (buildId) await dispatcher?.executor.cancel(buildId, "test cleanup");
  if (!closed) await dispatcher?.close();
  await bed?.close();
});

const settle = () => new Promise((r) => setTimeout(r, 750));

describe("a pod log follower that stops reading and then hangs up", () => {
  it("ends quietly, however the two are ordered", async () => {
    const step = stepsOf(pod).at(-1)!;
    for (const order of ["stop, then abort", "abort, then stop"] as const) {
      const abort = new AbortController();
      let got = 0;
      for await (const line of containerLogLines(bed.k.kc, bed.namespace, pod.metadata!.name!, step, true, abort.signal)) {
        expect(line).toBeTypeOf("string");
        got++;
        if (order === "abort, then stop") abort.abort();
        break;
      }
      if (order === "stop, then abort") abort.abort();
      expect(got).toBe(1);
      await settle();
    }
  });

  it("ends when aborted while waiting for the next line", async () => {
    const step = stepsOf(pod).at(-1)!;
    const abort = new AbortController();
    const lines: string[] = [];
    setTimeout(() => abort.abort(), 1_500);
    for await (const line of containerLogLines(bed.k.kc, bed.namespace, pod.metadata!.name!, step, true, abort.signal)) lines.push(line);
    expect(lines.length).toBeGreaterThan(0);
    await settle();
  });
});

describe("GET /v1/builds/{id}/logs?follow=1 with clients that hang up", () => {
  it("keeps serving: ten hang-ups, then a full follower still gets lines", async () => {
    for (let i = 0; i < 10; i++) {
      const abort = new AbortController();
      const res = await fetch(`${dispatcher.url}/v1/builds/${buildId}/logs?follow=1`, { signal: abort.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain('"platform":"linux/amd64"');
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
    await settle();
    expect((await fetch(`${dispatcher.url}/healthz`)).status).toBe(200);
    const abort = new AbortController();
    const res = await fetch(`${dispatcher.url}/v1/builds/${buildId}/logs?follow=1`, { signal: abort.signal });
    const reader = res.body!.getReader();
    let text = "";
    while (!/-line-\d+"/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    await settle();
  });
});

describe("shutdown", () => {
  it("gives requests in flight the grace, then cuts every connection, even one that never sent a request", async () => {
    // Node would otherwise wait for such a connection until headersTimeout (60 s), past a pod's termination grace.
    const silent = connect(new URL(dispatcher.url).port as unknown as number, "127.0.0.1");
    await new Promise((resolve) => silent.once("connect", resolve));
    const silentClosed = new Promise((resolve) => silent.once("close", resolve));
    const res = await fetch(`${dispatcher.url}/v1/builds/${buildId}/logs?follow=1`);
    const reader = res.body!.getReader();
    await reader.read();
    const followerEnded = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // cut: what an Action sees as a dropped stream, and resumes elsewhere
      }
    })();
    const started = Date.now();
    closed = true;
    await dispatcher.close();
    await Promise.all([silentClosed, followerEnded]);
    // The grace is 2 s; the bound is loose on purpose (shared machine) yet far below Node's 60 s.
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
