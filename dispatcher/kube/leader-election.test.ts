import type { V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { decide, defaultLeaseTiming, observe, type Observation } from "./leader-election.js";

const lease = (holderIdentity: string, resourceVersion = "7", leaseTransitions = 2): V1Lease => ({
  metadata: { name: "dockhand-dispatcher", resourceVersion },
  spec: { holderIdentity, leaseDurationSeconds: 15, leaseTransitions, acquireTime: "2026-01-01T00:00:00.000000Z" as never },
});
const seenAt = (observedAtMs: number, resourceVersion = "7"): Observation => ({ resourceVersion, observedAtMs });

describe("decide", () => {
  it.each([
    { name: "no Lease yet: create it", lease: undefined, observation: undefined, now: 0, want: { action: "create" } },
    { name: "another holder, seen changing 1 s ago: wait 14 s", lease: lease("b"), observation: seenAt(1_000), now: 2_000, want: { action: "wait", holder: "b", expiresInMs: 14_000 } },
    { name: "another holder, unchanged for 14.9 s: still wait", lease: lease("b"), observation: seenAt(0), now: 14_900, want: { action: "wait", holder: "b", expiresInMs: 100 } },
    { name: "another holder, unchanged for 15 s: take over, one more transition", lease: lease("b"), observation: seenAt(0), now: 15_000, want: { action: "replace", transition: true, holder: "a", transitions: 3 } },
    { name: "released (empty holder): take over at once, not a transition count", lease: lease(""), observation: seenAt(0), now: 1, want: { action: "replace", transition: true, holder: "a", transitions: 2 } },
    { name: "we hold it: renew, acquireTime kept", lease: lease("a"), observation: seenAt(0), now: 1_000, want: { action: "replace", transition: false, holder: "a", transitions: 2 } },
    // The leader's container restarted in its pod (same POD_NAME): no wait for its own Lease to expire.
    { name: "we held it before a restart (nothing observed yet): take it back at once", lease: lease("a"), observation: undefined, now: 1, want: { action: "replace", transition: false, holder: "a", transitions: 2 } },
  ])("$name", ({ lease: current, observation, now, want }) => {
    const decision = decide(current, observation, "a", defaultLeaseTiming, now);
    if (want.action !== "replace") {
      expect(decision).toEqual(want);
      return;
    }
    expect(decision.action).toBe("replace");
    if (decision.action !== "replace") return;
    expect(decision.transition).toBe(want.transition);
    expect(decision.spec.holderIdentity).toBe(want.holder);
    expect(decision.spec.leaseTransitions).toBe(want.transitions);
    expect(decision.spec.leaseDurationSeconds).toBe(15);
    expect(new Date(decision.spec.renewTime as unknown as string).getTime()).toBe(now);
    if (want.transition) expect(new Date(decision.spec.acquireTime as unknown as string).getTime()).toBe(now);
    else expect(decision.spec.acquireTime).toBe("2026-01-01T00:00:00.000000Z");
  });
});

describe("observe", () => {
  it.each([
    { name: "first sighting", previous: undefined, rv: "7", now: 5, want: seenAt(5) },
    { name: "unchanged Lease keeps its first sighting", previous: seenAt(1), rv: "7", now: 9, want: seenAt(1) },
    { name: "changed Lease is seen anew", previous: seenAt(1), rv: "8", now: 9, want: seenAt(9, "8") },
  ])("$name", ({ previous, rv, now, want }) => {
    expect(observe(previous, lease("b", rv), now)).toEqual(want);
  });

  it("nothing to observe without a Lease", () => {
    expect(observe(seenAt(1), undefined, 2)).toBeUndefined();
  });
});
