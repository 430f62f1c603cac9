import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { evaluateHypervPool, type HypervPoolFacts } from "./hyperv.js";

const node = (name: string, labelled: boolean): V1Node => ({ metadata: { name, labels: labelled ? { "dockhand.dev/hyperv": "true" } : {} } });

describe("evaluateHypervPool", () => {
  const rows: { name: string; facts: HypervPoolFacts; outcome: string; detail: RegExp }[] = [
    { name: "every host node labelled", facts: { version: "ltsc2019", hostVersion: "ltsc2022", hostNodes: [node("a", true), node("b", true)] }, outcome: "ok", detail: /ltsc2019 builds run on 2 ltsc2022 nodes labelled dockhand.dev\/hyperv=true \(a, b\); the Hyper-V feature and nested virtualization are not checked/ },
    { name: "none labelled", facts: { version: "ltsc2019", hostVersion: "ltsc2022", hostNodes: [node("a", false)] }, outcome: "FAIL", detail: /no ltsc2022 node is labelled dockhand.dev\/hyperv=true \(a\): every ltsc2019 build ends unschedulable/ },
    { name: "a mixed pool", facts: { version: "ltsc2019", hostVersion: "ltsc2022", hostNodes: [node("a", true), node("b", false)] }, outcome: "FAIL", detail: /1 of 2 ltsc2022 nodes labelled .*; b not: the dispatcher admits builds to any ltsc2022 dockerd/ },
    { name: "no host nodes", facts: { version: "ltsc2019", hostVersion: "ltsc2025", hostNodes: [] }, outcome: "FAIL", detail: /the ltsc2025 pool has no nodes/ },
    { name: "no host pool", facts: { version: "ltsc2019", hostVersion: undefined, hostNodes: [] }, outcome: "FAIL", detail: /no newer pool with isolation process hosts it/ },
    { name: "Nodes unreadable", facts: { version: "ltsc2019", hostVersion: "ltsc2022", hostNodes: { unreadable: "this identity may not list Nodes" } }, outcome: "skip", detail: /not checked: this identity may not list Nodes/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const [result] = evaluateHypervPool(row.facts);
      expect(result?.name).toBe("pool ltsc2019 (hyperv): nodes");
      expect(result?.outcome).toBe(row.outcome);
      expect(result?.detail).toMatch(row.detail);
      if (row.outcome !== "ok") expect(result?.fix).toBeTruthy();
    });
  }
});
