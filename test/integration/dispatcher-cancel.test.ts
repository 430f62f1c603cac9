// DELETE /v1/builds/{id}: the Jobs and their pods go, the running build
// process is stopped, and every platform reports error "Cancelled" once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, buildRequest, cancelBuild, ctx, finalStates, postBuild, setUpBed, startBedDispatcher, uploadContext, waitForStatuses } from "./harness.js";

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-cancel");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

describe("cancel", () => {
  it("deletes the Jobs with their pods and reports error Cancelled for every platform", async () => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo long-build ${Date.now()} && sleep 120\n`));
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, { platforms: ["windows/amd64:ltsc2022", "linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/cancel:1`], idempotencyKey: "cancel/1" }),
    );
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await expect
      .poll(async () => (await (await fetch(`${dispatcher.url}/v1/builds/${id}`)).json()).platforms.map((p: { state: string }) => p.state), { timeout: 60_000 })
      .toEqual(["running", "running"]);

    // Each platform's pending status is out first (GitHub paces status writes, so it can trail the pods).
    const pendingOf = (s: { target_url: string | null; state: string; context: string }[]) =>
      s.filter((x) => x.target_url?.endsWith(`/v1/builds/${id}`) && x.state === "pending" && x.context !== "dockhand/manifest").length;
    await waitForStatuses(bed.github, (s) => pendingOf(s) >= 2, 60_000);

    const cancelled = await cancelBuild(dispatcher.url, id);
    expect(cancelled.status).toBe(202);

    const mine = (s: { target_url: string | null; state: string; context: string; description: string | null }[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${id}`));
    // Two platforms and the build's index (dockhand/manifest), each final once.
    const statuses = mine(await waitForStatuses(bed.github, (s) => mine(s).filter((x) => finalStates.has(x.state)).length >= 3, 60_000));
    for (const context_ of ["dockhand/windows-ltsc2022", "dockhand/linux-amd64"]) {
      const states = statuses.filter((s) => s.context === context_);
      expect(states.map((s) => s.state)).toEqual(["pending", "error"]);
      expect(states[1]!.description).toBe("Cancelled");
    }
    const index = statuses.filter((s) => s.context === "dockhand/manifest");
    expect(index.map((s) => s.state)).toEqual(["pending", "error"]);
    expect(index[1]!.description).toBe("No index pushed: windows/amd64:ltsc2022 cancelled, linux/amd64 cancelled");
    const selector = `dockhand.dev/build-id=${id}`;
    await expect.poll(async () => (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: selector })).items.length, { timeout: 30_000 }).toBe(0);
    await expect.poll(async () => (await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: selector })).items.length, { timeout: 30_000 }).toBe(0);
    // Once the Jobs are gone nothing more is said: the first Job let go must
    // not make the other one see its platform as still waiting and take the
    // index back to pending.
    await new Promise((r) => setTimeout(r, 2_000));
    expect(mine(bed.github.statuses()).map((s) => `${s.context} ${s.state}`).sort()).toEqual(
      ["dockhand/linux-amd64 error", "dockhand/linux-amd64 pending", "dockhand/manifest error", "dockhand/manifest pending", "dockhand/windows-ltsc2022 error", "dockhand/windows-ltsc2022 pending"],
    );
    // Cancelling again, or a build that is gone, is a clear 404, not an error.
    expect((await cancelBuild(dispatcher.url, id)).status).toBe(404);
  });
});
