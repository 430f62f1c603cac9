import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { PlatformPhase } from "./protocol/phases.js";
import { createMetrics } from "./metrics.js";

describe("dockhand_builds_tracked", () => {
  it("counts the executor's platform builds by state at each scrape, zero for states none is in", async () => {
    let phases: PlatformPhase[] = ["running", "running", "queued"];
    const metrics = createMetrics({ platformPhases: () => phases });
    const first = await metrics.registry.getSingleMetricAsString("dockhand_builds_tracked");
    expect(first).toContain('dockhand_builds_tracked{state="running"} 2');
    expect(first).toContain('dockhand_builds_tracked{state="queued"} 1');
    expect(first).toContain('dockhand_builds_tracked{state="succeeded"} 0');

    // A later scrape reflects the executor now, not what was counted before.
    phases = ["succeeded", "failed"];
    const second = await metrics.registry.getSingleMetricAsString("dockhand_builds_tracked");
    expect(second).toContain('dockhand_builds_tracked{state="running"} 0');
    expect(second).toContain('dockhand_builds_tracked{state="succeeded"} 1');
    expect(second).toContain('dockhand_builds_tracked{state="failed"} 1');
  });
});

describe("dockhand_build_info", () => {
  it("is 1 with the package's version, the revision given and Node's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    const metrics = createMetrics({ revision: "0123abc" });
    expect(await metrics.registry.getSingleMetricAsString("dockhand_build_info")).toContain(
      `dockhand_build_info{version="${version}",revision="0123abc",nodejs_version="${process.versions.node}"} 1`,
    );
    expect(await createMetrics().registry.getSingleMetricAsString("dockhand_build_info")).toContain('revision="unknown"');
  });
});

describe("dockhand_dockerd_pool_nodes and _ready_nodes", () => {
  it.each([
    {
      name: "a configured version without any dockerd pod is 0 nodes, 0 ready (an alert can see it)",
      configured: ["ltsc2022"],
      daemons: [],
      nodes: { ltsc2022: 0 },
      ready: { ltsc2022: 0 },
    },
    {
      name: "Ready and not Ready pods are counted per version",
      configured: ["ltsc2022", "ltsc2025"],
      daemons: [
        { windowsVersion: "ltsc2022", ready: true },
        { windowsVersion: "ltsc2022", ready: false },
        { windowsVersion: "ltsc2025", ready: true },
      ],
      nodes: { ltsc2022: 2, ltsc2025: 1 },
      ready: { ltsc2022: 1, ltsc2025: 1 },
    },
    {
      name: "a version that has pods but no pool in the config still shows",
      configured: [],
      daemons: [{ windowsVersion: "ltsc2019", ready: false }],
      nodes: { ltsc2019: 1 },
      ready: { ltsc2019: 0 },
    },
  ])("$name", async ({ configured, daemons, nodes, ready }) => {
    const metrics = createMetrics({ dockerdPool: () => ({ configured, daemons }) });
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_nodes")).toEqual(nodes);
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_ready_nodes")).toEqual(ready);
  });

  it("follow the pool at each scrape and drop a version that is neither configured nor running", async () => {
    let daemons = [{ windowsVersion: "ltsc2019", ready: true }];
    const metrics = createMetrics({ dockerdPool: () => ({ configured: ["ltsc2022"], daemons }) });
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_ready_nodes")).toEqual({ ltsc2019: 1, ltsc2022: 0 });
    daemons = [{ windowsVersion: "ltsc2022", ready: true }];
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_ready_nodes")).toEqual({ ltsc2022: 1 });
  });

  it("export no series without a pool (the local executor)", async () => {
    const metrics = createMetrics({ dockerdPool: () => undefined });
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_nodes")).toEqual({});
  });
});

describe("dockhand_dockerd_pool_nodes_missing_cli_image", () => {
  const daemons = [
    { windowsVersion: "ltsc2022", ready: true, node: "w22-a" },
    { windowsVersion: "ltsc2022", ready: false, node: "w22-b" },
    { windowsVersion: "ltsc2025", ready: true, node: "w25-a" },
  ];
  it.each([
    ["no node holds it: every dockerd node counts", new Map(), { ltsc2019: 0, ltsc2022: 2, ltsc2025: 1 }],
    ["held on one ltsc2022 node", new Map([["ltsc2022", new Set(["w22-a"])]]), { ltsc2019: 0, ltsc2022: 1, ltsc2025: 1 }],
    ["held everywhere (a node that is no dockerd node does not count)", new Map([["ltsc2022", new Set(["w22-a", "w22-b", "linux-0"])], ["ltsc2025", new Set(["w25-a"])]]), { ltsc2019: 0, ltsc2022: 0, ltsc2025: 0 }],
    ["held by another version's pod only: still missing", new Map([["ltsc2025", new Set(["w22-a", "w22-b"])]]), { ltsc2019: 0, ltsc2022: 2, ltsc2025: 1 }],
  ])("%s", async (_name, cliImageHeldOn, expected) => {
    const metrics = createMetrics({ dockerdPool: () => ({ configured: ["ltsc2019", "ltsc2022", "ltsc2025"], daemons, cliImageHeldOn }) });
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_nodes_missing_cli_image")).toEqual(expected);
  });

  it("exports no series when the holdings are not known", async () => {
    const metrics = createMetrics({ dockerdPool: () => ({ configured: ["ltsc2022"], daemons }) });
    expect(await gaugeValues(metrics, "dockhand_dockerd_pool_nodes_missing_cli_image")).toEqual({});
  });
});

async function gaugeValues(metrics: ReturnType<typeof createMetrics>, name: string): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.windows_version), v.value]));
}
