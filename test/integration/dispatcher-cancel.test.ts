// DELETE /v1/builds/{id}: the pods and their processes stop, the Jobs stay
// readable for limits.ttlSecondsAfterFinished, and each platform whose
// pending went out reports error "Cancelled" once; a build cancelled before
// any of its statuses went out gets none at all.
import { CoordinationV1Api, V1MicroTime } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { dispatcherLeaseName } from "../../dispatcher/kube/leader-election.js";
import { reportFinalizer } from "../../dispatcher/plan/names.js";
import { type Bed, buildRequest, cancelBuild, ctx, finalStates, postBuild, setUpBed, startBedDispatcher, uploadContext, waitForStatuses } from "./harness.js";

let bed: Bed;
let dispatcher: Dispatcher | undefined;
// Short enough to watch the cancelled Jobs go, long enough to read them first.
const ttlSeconds = 25;

beforeAll(async () => {
  bed = await setUpBed("dh-cancel");
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

const start = () => startBedDispatcher(bed, (c) => ({ ...c, limits: { ...c.limits, ttlSecondsAfterFinished: ttlSeconds } }));
const mine = (id: string) => (s: { target_url: string | null; state: string; context: string; description: string | null }[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${id}`));
const jobsOf = async (id: string) => (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${id}` })).items;
const podsOf = async (id: string) => (await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${id}` })).items;

describe("cancel", () => {
  it("stops the pods, reports error Cancelled for every announced platform, keeps the build readable, then deletes its Jobs after the TTL", async () => {
    dispatcher = await start();
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo long-build ${Date.now()} && sleep 120\n`));
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, { platforms: ["windows/amd64:ltsc2022", "linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/cancel:1`], idempotencyKey: "cancel/1" }),
    );
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await expect
      .poll(async () => (await (await fetch(`${dispatcher!.url}/v1/builds/${id}`)).json()).platforms.map((p: { state: string }) => p.state), { timeout: 60_000 })
      .toEqual(["running", "running"]);

    // Each platform's and the index's pending status is out first (GitHub
    // paces status writes, so they can trail the pods; one still waiting its
    // turn at the cancel would be dropped, and its context get no status).
    const pendingOf = (s: { target_url: string | null; state: string; context: string }[]) =>
      s.filter((x) => x.target_url?.endsWith(`/v1/builds/${id}`) && x.state === "pending").length;
    await waitForStatuses(bed.github, (s) => pendingOf(s) >= 3, 60_000);

    const cancelled = await cancelBuild(dispatcher.url, id);
    expect(cancelled.status).toBe(202);
    const cancelledAt = Date.now();

    // Two platforms and the build's index (dockhand/manifest), each final once.
    const statuses = mine(id)(await waitForStatuses(bed.github, (s) => mine(id)(s).filter((x) => finalStates.has(x.state)).length >= 3, 60_000));
    for (const context_ of ["dockhand/windows-ltsc2022", "dockhand/linux-amd64"]) {
      const states = statuses.filter((s) => s.context === context_);
      expect(states.map((s) => s.state)).toEqual(["pending", "error"]);
      expect(states[1]!.description).toBe("Cancelled");
    }
    const index = statuses.filter((s) => s.context === "dockhand/manifest");
    expect(index.map((s) => s.state)).toEqual(["pending", "error"]);
    expect(index[1]!.description).toBe("No index pushed: windows/amd64:ltsc2022 cancelled, linux/amd64 cancelled");

    // The pods go at once; the Jobs stay, suspended, their report finalizer let go.
    await expect.poll(async () => (await podsOf(id)).length, { timeout: 30_000 }).toBe(0);
    await expect
      .poll(async () => (await jobsOf(id)).map((job) => `${job.spec?.suspend} ${(job.metadata?.finalizers ?? []).includes(reportFinalizer)}`), { timeout: 30_000 })
      .toEqual(["true false", "true false"]);
    // Readable as a finished build is, and cancelling again changes nothing.
    const read = await fetch(`${dispatcher.url}/v1/builds/${id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ state: "cancelled", platforms: [{ state: "cancelled" }, { state: "cancelled" }] });
    const again = await cancelBuild(dispatcher.url, id);
    expect(again.status).toBe(202);
    expect(((await again.json()) as { state: string }).state).toBe("cancelled");
    // Once the Jobs are let go nothing more is said: the first Job let go must
    // not make the other one see its platform as still waiting and take the
    // index back to pending.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(mine(id)(bed.github.statuses()).map((s) => `${s.context} ${s.state}`).sort()).toEqual(
      ["dockhand/linux-amd64 error", "dockhand/linux-amd64 pending", "dockhand/manifest error", "dockhand/manifest pending", "dockhand/windows-ltsc2022 error", "dockhand/windows-ltsc2022 pending"],
    );

    // ttlSecondsAfterFinished after the cancellation, the reconciler deletes the Jobs (the TTL controller only collects finished ones).
    await expect.poll(async () => (await jobsOf(id)).length, { timeout: (ttlSeconds + 30) * 1000, interval: 500 }).toBe(0);
    expect(Date.now() - cancelledAt).toBeGreaterThanOrEqual((ttlSeconds - 1) * 1000);
    expect((await fetch(`${dispatcher.url}/v1/builds/${id}`)).status).toBe(404);
    await dispatcher.close();
    dispatcher = undefined;
  });

  it("sends no status at all for a build cancelled before any of its statuses went out (accepted while no replica led)", async () => {
    await dispatcher?.close(); // one dispatcher per namespace at a time, even after a failure above
    // Another replica holds the Lease: this one serves the API but does not reconcile.
    const leases = bed.k.kc.makeApiClient(CoordinationV1Api);
    const held = { holderIdentity: "another-replica", leaseDurationSeconds: 3600, renewTime: new V1MicroTime(Date.now()), acquireTime: new V1MicroTime(Date.now()) };
    await leases.deleteNamespacedLease({ name: dispatcherLeaseName, namespace: bed.namespace }).catch(() => undefined);
    await leases.createNamespacedLease({ namespace: bed.namespace, body: { metadata: { name: dispatcherLeaseName }, spec: held } });
    dispatcher = await start();

    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo never-announced ${Date.now()} && sleep 120\n`));
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, { platforms: ["windows/amd64:ltsc2022", "linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/cancel:2`], idempotencyKey: "cancel/2" }),
    );
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    expect((await cancelBuild(dispatcher.url, id)).status).toBe(202);

    // The other replica goes away; this one leads and finds the build cancelled, nothing of it on GitHub.
    await leases.deleteNamespacedLease({ name: dispatcherLeaseName, namespace: bed.namespace });
    await expect.poll(() => dispatcher!.leaderElector?.isLeader, { timeout: 30_000, interval: 200 }).toBe(true);
    await expect
      .poll(async () => (await jobsOf(id)).map((job) => (job.metadata?.finalizers ?? []).includes(reportFinalizer)), { timeout: 30_000 })
      .toEqual([false, false]);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(mine(id)(bed.github.statuses())).toEqual([]);
    expect(await podsOf(id)).toEqual([]);
    const read = await fetch(`${dispatcher.url}/v1/builds/${id}`);
    expect(await read.json()).toMatchObject({ state: "cancelled" });
  });
});
