// The dispatcher's Prometheus metrics on the bed: /metrics on its own port
// (metrics.port) and not beside the API, dockhand_build_info, the leader
// gauge, and the dockerd pool's readiness per Windows version as the
// dispatcher's informer sees the real dockerd pods — the bed's own
// DaemonSets, and pods of a test namespace that turn Ready and go away.
import type { V1Pod } from "@kubernetes/client-node";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { dockerdPodLabels } from "../../dispatcher/plan/names.js";
import { type Bed, freePort, setUpBed, startBedDispatcher } from "./harness.js";

let bed: Bed;
const dispatchers: Dispatcher[] = [];

beforeAll(async () => {
  bed = await setUpBed("dh-metrics");
});

afterAll(async () => {
  for (const dispatcher of dispatchers) await dispatcher.close();
  await bed?.close();
});

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The text exposition format, enough of it for these gauges: `name{a="b",…} value`. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status, `GET ${url}`).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

function byVersion(samples: Sample[], name: string): Record<string, number> {
  return Object.fromEntries(samples.filter((s) => s.name === name).map((s) => [s.labels.windows_version!, s.value]));
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

describe("metrics", () => {
  it("serves /metrics on metrics.port alone, with build info, the leader and the bed's dockerd pool per Windows version", async () => {
    const metricsPort = await freePort();
    const dispatcher = await startBedDispatcher(bed, (config) => ({ ...config, metrics: { port: metricsPort } }));
    dispatchers.push(dispatcher);
    expect(dispatcher.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}/metrics`);

    // Not beside the public API any more, and nothing but /metrics on the metrics port.
    expect((await fetch(`${dispatcher.url}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/v1/builds/x`)).status).toBe(404);
    expect((await fetch(`${dispatcher.url}/healthz`)).status).toBe(200);

    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    const samples = await until("dockhand_leader", () => scrape(dispatcher.metricsUrl), (s) => s.some((x) => x.name === "dockhand_leader" && x.value === 1));
    expect(samples.find((s) => s.name === "dockhand_build_info")).toEqual({
      name: "dockhand_build_info",
      labels: { version, revision: "unknown", nodejs_version: process.versions.node },
      value: 1,
    });

    // What the bed's dockerd DaemonSets run now, read straight from the API server.
    const daemonNamespace = bed.env.DOCKERD_NAMESPACE ?? bed.namespace;
    const pods = (await bed.k.core.listNamespacedPod({ namespace: daemonNamespace, labelSelector: `${dockerdPodLabels.name}=${dockerdPodLabels.nameValue}` })).items
      .filter((pod) => pod.spec?.nodeName && !pod.metadata?.deletionTimestamp);
    const expected = { nodes: {} as Record<string, number>, ready: {} as Record<string, number> };
    for (const version of ["ltsc2019", "ltsc2022", "ltsc2025"]) {
      const mine = pods.filter((pod) => pod.metadata?.labels?.[dockerdPodLabels.windowsVersion] === version);
      expected.nodes[version] = mine.length;
      expected.ready[version] = mine.filter(isReady).length;
    }
    expect(expected.ready, "the bed's dockerd pods are expected Ready on each Windows node").toEqual({ ltsc2019: 1, ltsc2022: 1, ltsc2025: 1 });
    const now = await scrape(dispatcher.metricsUrl);
    expect({ nodes: byVersion(now, "dockhand_dockerd_pool_nodes"), ready: byVersion(now, "dockhand_dockerd_pool_ready_nodes") }).toEqual(expected);
  });

  it("follows dockerd pods as they turn Ready and go away, and shows a configured version without any as 0", async () => {
    // The dispatcher reads dockerd pods in this test's own namespace, so the
    // pods made here are the whole pool: one ltsc2022 engine that runs (the
    // node agent makes a running Linux container Ready), one that has exited.
    const dispatcher = await startBedDispatcher(bed, (config) => ({
      ...config,
      dockerPool: { ...config.dockerPool, daemonNamespace: bed.namespace },
    }));
    dispatchers.push(dispatcher);
    const pool = async () => {
      const samples = await scrape(dispatcher.metricsUrl);
      return { nodes: byVersion(samples, "dockhand_dockerd_pool_nodes"), ready: byVersion(samples, "dockhand_dockerd_pool_ready_nodes") };
    };
    const none = { ltsc2019: 0, ltsc2022: 0, ltsc2025: 0 };
    expect(await pool()).toEqual({ nodes: none, ready: none });

    const dockerdPod = (name: string, script: string) => ({
      metadata: { name, labels: { [dockerdPodLabels.name]: dockerdPodLabels.nameValue, [dockerdPodLabels.windowsVersion]: "ltsc2022" } },
      spec: { nodeName: "linux-0", restartPolicy: "Never", containers: [{ name: "dockerd", image: "busybox", command: ["sh", "-c", script] }] },
    });
    await bed.k.core.createNamespacedPod({ namespace: bed.namespace, body: dockerdPod("dockerd-running", "sleep 600") });
    await bed.k.core.createNamespacedPod({ namespace: bed.namespace, body: dockerdPod("dockerd-exited", "exit 1") });
    await until("one Ready of two ltsc2022 engines", pool, (p) => p.nodes.ltsc2022 === 2 && p.ready.ltsc2022 === 1);
    expect(await pool()).toEqual({ nodes: { ...none, ltsc2022: 2 }, ready: { ...none, ltsc2022: 1 } });

    await bed.k.core.deleteNamespacedPod({ namespace: bed.namespace, name: "dockerd-running", gracePeriodSeconds: 0 });
    const after = await until("the Ready engine gone", pool, (p) => p.ready.ltsc2022 === 0);
    expect(after).toEqual({ nodes: { ...none, ltsc2022: 1 }, ready: none });
  });
});
