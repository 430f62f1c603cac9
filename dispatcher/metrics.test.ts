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
