import { describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../config/validate.js";
import type { Config } from "../config/schema.js";
import { planBuild } from "./build-plan.js";
import { jobManifests } from "./job-manifests.js";
import { hypervHostProblem, windowsHostFor } from "./windows-host.js";
import { contextUrl, testConfig, testRequest } from "./test-fixtures.js";
import { maxReasonLength } from "./builder-choice.js";

const toleration = (key: string) => ({ key, operator: "Equal" as const, value: "windows", effect: "NoSchedule" as const });
const pool = (agentpool: string, extra: Record<string, unknown> = {}) => ({ nodeSelector: { agentpool }, tolerations: [toleration("os")], ...extra });

function configWith(pools: Record<string, unknown>): Config {
  return testConfig({ dockerPool: { pools } });
}

describe("windowsHostFor: where a version's dockerd builds run", () => {
  const rows: { name: string; pools: Record<string, unknown>; version: "ltsc2019" | "ltsc2022" | "ltsc2025"; expected: unknown }[] = [
    {
      name: "process (unset): the version's own pool and build",
      pools: { ltsc2019: pool("win19") },
      version: "ltsc2019",
      expected: { version: "ltsc2019", isolation: "process", nodeSelector: { agentpool: "win19", "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.17763" } },
    },
    {
      name: "hyperv: the nearest newer process pool, its build, the Hyper-V label, both pools' labels",
      pools: { ltsc2019: { nodeSelector: { "dockhand.dev/hyperv": "true" }, tolerations: [], isolation: "hyperv" }, ltsc2022: pool("win22"), ltsc2025: pool("win25") },
      version: "ltsc2019",
      expected: {
        version: "ltsc2022",
        isolation: "hyperv",
        nodeSelector: { agentpool: "win22", "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348", "dockhand.dev/hyperv": "true" },
      },
    },
    {
      name: "hyperv with hostVersion: that pool, though a nearer one exists",
      pools: { ltsc2019: pool("win22hv", { isolation: "hyperv", hostVersion: "ltsc2025" }), ltsc2022: pool("win22"), ltsc2025: pool("win25") },
      version: "ltsc2019",
      expected: {
        version: "ltsc2025",
        isolation: "hyperv",
        nodeSelector: { agentpool: "win22hv", "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.26100", "dockhand.dev/hyperv": "true" },
      },
    },
    {
      name: "hyperv skips a newer pool that is itself hyperv",
      pools: { ltsc2019: pool("x", { isolation: "hyperv" }), ltsc2022: pool("win22", { isolation: "hyperv" }), ltsc2025: pool("win25") },
      version: "ltsc2019",
      expected: { version: "ltsc2025", isolation: "hyperv" },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(windowsHostFor(configWith(row.pools), row.version)).toMatchObject(row.expected as object);
    });
  }

  it("no pool: no host", () => {
    expect(windowsHostFor(configWith({ ltsc2022: pool("win22") }), "ltsc2019")).toBeUndefined();
  });

  it("hyperv tolerations add to the host pool's, each once", () => {
    const host = windowsHostFor(
      configWith({ ltsc2019: { nodeSelector: { a: "b" }, tolerations: [toleration("os"), toleration("hv")], isolation: "hyperv" }, ltsc2022: pool("win22") }),
      "ltsc2019",
    );
    expect(host?.tolerations).toEqual([toleration("os"), toleration("hv")]);
  });
});

describe("config validation of hyperv pools", () => {
  const problems = (pools: Record<string, unknown>) => {
    try {
      resolveConfig({ publicUrl: "http://d:8080", contexts: { signingKey: "k".repeat(32) }, dockerPool: { pools } }, {}, "test");
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => `${p.key}: ${p.message}`);
      throw error;
    }
  };
  const rows: { name: string; pools: Record<string, unknown>; expected: RegExp | undefined }[] = [
    { name: "a newer process pool: valid", pools: { ltsc2019: pool("x", { isolation: "hyperv" }), ltsc2022: pool("win22") }, expected: undefined },
    { name: "no newer pool", pools: { ltsc2019: pool("x", { isolation: "hyperv" }) }, expected: /dockerPool\.pools\.ltsc2019\.isolation: is hyperv, so ltsc2019 builds run on a newer pool, and dockerPool\.pools\.ltsc2022 or dockerPool\.pools\.ltsc2025 with isolation process is not configured/ },
    { name: "the newest version has nothing newer", pools: { ltsc2025: pool("x", { isolation: "hyperv" }) }, expected: /ltsc2025\.isolation: is hyperv, but no Windows version is newer than ltsc2025/ },
    { name: "hostVersion not newer", pools: { ltsc2022: pool("x", { isolation: "hyperv", hostVersion: "ltsc2022" }), ltsc2025: pool("y") }, expected: /ltsc2022\.hostVersion: is ltsc2022, which is not newer than ltsc2022/ },
    { name: "hostVersion without its pool", pools: { ltsc2019: pool("x", { isolation: "hyperv", hostVersion: "ltsc2025" }), ltsc2022: pool("y") }, expected: /dockerPool\.pools\.ltsc2025 with isolation process is not configured/ },
    {
      name: "a windows-build label on a hyperv pool",
      pools: { ltsc2019: { nodeSelector: { "node.kubernetes.io/windows-build": "10.0.17763" }, tolerations: [], isolation: "hyperv" }, ltsc2022: pool("y") },
      expected: /ltsc2019\.nodeSelector\["node\.kubernetes\.io\/windows-build"\]: is set, but ltsc2019 builds with isolation hyperv run on a newer version's nodes/,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const found = problems(row.pools);
      if (row.expected === undefined) expect(found).toEqual([]);
      else expect(found.join("\n")).toMatch(row.expected);
    });
  }

  it("hypervHostProblem is silent for a process pool", () => {
    expect(hypervHostProblem(configWith({ ltsc2019: pool("win19") }), "ltsc2019")).toBeUndefined();
  });
});

describe("a Hyper-V isolated platform's Job", () => {
  const config = configWith({ ltsc2019: { nodeSelector: { "dockhand.dev/hyperv": "true" }, tolerations: [], isolation: "hyperv" }, ltsc2022: pool("win22") });
  const dockerfile = "ARG SERVERCORE_TAG\nFROM mcr.microsoft.com/windows/servercore:${SERVERCORE_TAG}\nRUN echo hi\n";
  const request = testRequest({ platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022"], tags: ["127.0.0.1:15000/octo-org/app:1.0"] });
  const plan = planBuild({ request, config, dockerfile, buildId: "abcdefghijkl", contextUrl });
  const [hyperv, process] = jobManifests(plan, config);

  it("selects the ltsc2022 pool's nodes labelled Hyper-V capable, with that pool's tolerations", () => {
    expect(hyperv?.spec?.template.spec?.nodeSelector).toEqual({
      agentpool: "win22",
      "dockhand.dev/hyperv": "true",
      "kubernetes.io/os": "windows",
      "node.kubernetes.io/windows-build": "10.0.20348",
    });
    expect(hyperv?.spec?.template.spec?.tolerations).toEqual([toleration("os")]);
  });

  it("runs docker build --isolation=hyperv with the ltsc2019 build args, from the ltsc2022 CLI image", () => {
    const build = hyperv?.spec?.template.spec?.initContainers?.find((c) => c.name === "build");
    expect(build?.command).toContain("--isolation=hyperv");
    expect(build?.command).toContain("--build-arg=SERVERCORE_TAG=ltsc2019");
    expect(build?.image).toBe(config.dockerPool.images.ltsc2022);
    expect(new Set(hyperv?.spec?.template.spec?.initContainers?.map((c) => c.image))).toEqual(new Set([config.dockerPool.images.ltsc2022]));
  });

  it("carries the host version and isolation for admission, and the choice in its status reason", () => {
    expect(hyperv?.metadata?.annotations).toMatchObject({
      "dockhand.dev/platform": "windows/amd64:ltsc2019",
      "dockhand.dev/host-windows-version": "ltsc2022",
      "dockhand.dev/isolation": "hyperv",
      "dockhand.dev/builder-reason": "windows stage #0 has RUN (line 3): dockerd pool; ltsc2019 on an ltsc2022 node, Hyper-V isolation",
    });
  });

  it("leaves a process platform as it was: its own build, no isolation flag, no host annotations", () => {
    expect(process?.spec?.template.spec?.nodeSelector).toEqual({ agentpool: "win22", "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348" });
    expect(process?.spec?.template.spec?.initContainers?.find((c) => c.name === "build")?.command).not.toContain("--isolation=hyperv");
    expect(process?.metadata?.annotations?.["dockhand.dev/host-windows-version"]).toBeUndefined();
    expect(process?.metadata?.annotations?.["dockhand.dev/isolation"]).toBeUndefined();
  });

  it("keeps the Hyper-V part of a long reason whole within 140 characters", () => {
    const longStage = `FROM mcr.microsoft.com/windows/servercore:ltsc2019 AS ${"a".repeat(120)}\nRUN echo hi\n`;
    const long = planBuild({ request: testRequest({ platforms: ["windows/amd64:ltsc2019"] }), config, dockerfile: longStage, buildId: "abcdefghijkl", contextUrl });
    const reason = long.platforms[0]!.reason;
    expect(reason.length).toBeLessThanOrEqual(maxReasonLength);
    expect(reason).toMatch(/…; ltsc2019 on an ltsc2022 node, Hyper-V isolation$/);
  });
});
