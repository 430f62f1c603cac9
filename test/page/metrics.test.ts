// Observability on the real bed: /metrics scraped before and after a build
// shows that build (result, builder, platform, durations, reconciler lag),
// and every JSON log line that mentions the build carries its id.
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, buildRequest, ctx, finalStates, freePort, postBuild, setUpBed, uploadContext, waitForStatuses } from "../integration/harness.js";

let bed: Bed;
let dispatcher: Dispatcher;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  bed = await setUpBed("dh-metrics");
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line.trim()) logLines.push(JSON.parse(line));
      done();
    },
  });
  dispatcher = await startDispatcher(bed.config(await freePort()), { logger: pino({ level: "info" }, sink) });
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

/** Prometheus text format → value of each `name{labels}` sample. */
async function scrape(): Promise<Map<string, number>> {
  const text = await (await fetch(`${dispatcher.url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

describe("metrics and logs", () => {
  it("count the builds a test ran, with their durations and the reconciler's lag, and tag every log line with the build id", async () => {
    const before = await scrape();
    const value = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;
    const nonce = randomBytes(4).toString("hex");
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo metrics-${nonce}\n`));
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/metrics:${nonce}`], idempotencyKey: `metrics/${nonce}` }),
    );
    expect(res.status).toBe(202);
    const id: string = res.body.id;
    await waitForStatuses(bed.github, (s) => s.some((x) => x.target_url?.endsWith(id) && finalStates.has(x.state)));
    await fetch(`${dispatcher.url}/v1/builds/${id}`);
    await fetch(`${dispatcher.url}/v1/builds/${id}/logs`).then((r) => r.text());

    // The final status is delivered just before the counter moves: allow it that moment.
    const key = 'dockhand_platform_builds_total{result="succeeded",builder="buildkit",platform="linux/amd64"}';
    await expect.poll(async () => value(await scrape(), key), { timeout: 10_000 }).toBe(value(before, key) + 1);
    const after = await scrape();
    const grew = (name: string) => value(after, name) - value(before, name);
    expect(grew('dockhand_builds_accepted_total{executor="kubernetes"}')).toBe(1);
    expect(grew('dockhand_http_requests_total{method="POST",route="/v1/builds",status="202"}')).toBe(1);
    expect(grew('dockhand_platform_build_duration_seconds_count{builder="buildkit",platform="linux/amd64",result="succeeded"}')).toBe(1);
    expect(grew('dockhand_platform_queue_seconds_count{builder="buildkit",platform="linux/amd64"}')).toBe(1);
    expect(grew('dockhand_commit_statuses_total{state="success"}')).toBeGreaterThanOrEqual(1);
    // Pod and Job events for this build were each reconciled, and promptly.
    expect(grew('dockhand_reconcile_lag_seconds_count{outcome="ok"}')).toBeGreaterThanOrEqual(3);
    expect(value(after, 'dockhand_reconcile_lag_seconds_bucket{le="5",outcome="ok"}')).toBeGreaterThan(0);
    // The namespace is this test's own: its one finished Job (kept until its TTL) is all the gauge sees.
    expect(value(after, 'dockhand_builds_tracked{state="succeeded"}')).toBe(1);
    expect(value(after, 'dockhand_builds_tracked{state="running"}')).toBe(0);

    // Every line that mentions the build is bound to it, and there are lines from the API, its requests and the reconciler.
    const mentioning = logLines.filter((line) => JSON.stringify(line).includes(id));
    expect(mentioning.filter((line) => line.buildId !== id)).toEqual([]);
    const messages = new Set(mentioning.map((line) => line.msg));
    for (const msg of ["build accepted", "incoming request", "request completed", "commit status reported"]) expect(messages).toContain(msg);
    expect(logLines.filter((line) => line.msg === "request completed" && line.buildId === id).length).toBeGreaterThanOrEqual(3);
  });
});
