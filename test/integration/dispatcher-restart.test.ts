// The dispatcher keeps no state of its own: killed mid-build and started
// again, it reports every build exactly once from what the Jobs carry. And
// GitHub failing or rate-limiting does not lose or repeat a status.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bed, buildRequest, ctx, finalStates, freePort, postBuild, setUpBed, uploadContext, waitForStatuses, writeConfigFile } from "./harness.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
let bed: Bed;
let child: ChildProcess | undefined;
let port = 0;
let configFile = "";

/** The dispatcher as its own process, exactly as `npm start` runs it. */
async function startProcess(): Promise<string> {
  child = spawn(process.execPath, ["--import", "tsx", "dispatcher/main.ts"], {
    cwd: repoRoot,
    env: { ...process.env, DOCKHAND_CONFIG: configFile, DOCKHAND_LOG_LEVEL: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) return url;
    if (child.exitCode !== null) throw new Error(`dispatcher exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("dispatcher did not become ready in 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  bed = await setUpBed("dh-restart");
  port = await freePort();
  configFile = writeConfigFile(bed, port);
});

afterAll(async () => {
  child?.kill("SIGKILL");
  await bed?.close();
});

describe("restart", () => {
  it("reports each of 5 builds exactly once when the dispatcher is SIGKILLed mid-build and started again", async () => {
    let url = await startProcess();
    // A nonce keeps dockerd's layer cache from finishing the builds before the kill.
    const context = await uploadContext(url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo start ${Date.now()} && sleep 8 && echo done\n`));
    const platforms = ["linux/amd64", "windows/amd64:ltsc2022", "windows/amd64:ltsc2019", "linux/amd64", "windows/amd64:ltsc2022"];
    const ids: string[] = [];
    for (const [i, platform] of platforms.entries()) {
      const res = await postBuild(url, buildRequest(context, { platforms: [platform], tags: [`${bed.env.REGISTRY}/bed/restart-${i}:1`], idempotencyKey: `restart/${i}` }));
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    // Wait until every build's RUN step runs (its context already fetched
    // from the dispatcher), then kill without warning.
    await expect
      .poll(async () => {
        const logs = await Promise.all(ids.map((id) => fetch(`${url}/v1/builds/${id}/logs`).then((r) => r.text())));
        // "start <nonce>" from the RUN itself: plain on dockerd, after "#5 0.21 " on BuildKit.
        return logs.every((text) => /"line":"(#\d+ [\d.]+ )?start \d+"/.test(text));
      }, { timeout: 60_000, interval: 250 })
      .toBe(true);
    child!.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));

    url = await startProcess();
    const byBuild = (statuses: { target_url: string | null; state: string }[], id: string) => statuses.filter((s) => s.target_url?.endsWith(`/v1/builds/${id}`));
    const all = await waitForStatuses(bed.github, (s) => ids.every((id) => byBuild(s, id).some((x) => finalStates.has(x.state))), 120_000);
    // Let the restarted dispatcher settle; a duplicate would show up now.
    await new Promise((r) => setTimeout(r, 3000));
    const settled = bed.github.statuses();
    for (const id of ids) {
      const states = byBuild(settled, id).map((s) => s.state);
      // Pending first, the result once, whatever the kill interrupted.
      expect(states, `build ${id}`).toEqual(["pending", "success"]);
    }
    expect(all.length).toBeLessThanOrEqual(settled.length);
  });
});

describe("a crash right after GitHub answered a result", () => {
  it("sends each result once: the restarted dispatcher finds it on GitHub and records it instead of sending it again", async () => {
    let url = alive(child) ? `http://127.0.0.1:${port}` : await startProcess();
    const context = await uploadContext(url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /crash-${Date.now()}\n`));
    const res = await postBuild(url, buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/crash-after-result:1`], idempotencyKey: `crash/${Date.now()}` }));
    expect(res.status).toBe(202);
    const mine = (s: { target_url: string | null; state: string }[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${res.body.id}`));
    // SIGKILL as soon as GitHub's 201 for the result has gone out: before the dispatcher can record it on the Job.
    const killed = new Promise<void>((resolve) => {
      bed.github.onStatusAnswered((status) => {
        if (!status.target_url?.endsWith(`/v1/builds/${res.body.id}`) || !finalStates.has(status.state)) return;
        bed.github.onStatusAnswered(undefined);
        child!.kill("SIGKILL");
        child!.once("exit", () => resolve());
      });
    });
    await killed;
    url = await startProcess();
    // The restarted dispatcher reconciles every Job at once; a second result would be sent within seconds.
    await expect.poll(async () => (await (await fetch(`${url}/v1/builds/${res.body.id}`)).json()).platforms[0].reported, { timeout: 30_000 }).toBe("success");
    await new Promise((r) => setTimeout(r, 3000));
    expect(mine(bed.github.statuses()).map((s) => s.state)).toEqual(["pending", "success"]);
    // It asked GitHub what the commit shows, as GitHub's API describes that call.
    expect(bed.github.requests().some((r) => r.operationId === "repos/list-commit-statuses-for-ref" && r.validation.valid)).toBe(true);
  });
});

describe("a crash after a pending was recorded and before it went out", () => {
  it("still shows pending first: the restarted dispatcher finds nothing of the build on GitHub and sends pending before the result", async () => {
    let url = alive(child) ? `http://127.0.0.1:${port}` : await startProcess();
    const nonce = Date.now();
    const context = await uploadContext(url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /lost-pending-${nonce}\n`));
    let buildId = "";
    // The pending never reaches GitHub (it was recorded on the Job first), and nothing else of the build does
    // until the dispatcher dies. It dies once the build's Job has succeeded: the pod fetched its context
    // from this dispatcher, so killing it sooner would fail the build instead (a race the machine's load decides).
    const killed = new Promise<void>((resolve) => {
      let killing = false;
      bed.github.onStatusRequest((body) => {
        if (buildId === "" || !String(body.target_url).endsWith(`/v1/builds/${buildId}`)) return undefined;
        if (!killing && body.state === "pending") {
          killing = true;
          void (async () => {
            const deadline = Date.now() + 90_000;
            while (Date.now() < deadline) {
              const jobs = await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${buildId}` });
              if ((jobs.items[0]?.status?.succeeded ?? 0) === 1) break;
              await new Promise((r) => setTimeout(r, 200));
            }
            child!.kill("SIGKILL");
            child!.once("exit", () => {
              bed.github.onStatusRequest(undefined);
              resolve();
            });
          })();
        }
        return "drop";
      });
    });
    const request = buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/lost-pending:1`], idempotencyKey: `lost-pending/${nonce}` });
    // The build id is deterministic for an idempotency key: known before the request, so the hook can match it.
    buildId = (await import("../../dispatcher/plan/names.js")).buildIdFromKey(request.repository as string, request.idempotencyKey as string, (bed.rawConfig(port).contexts as { signingKey: string }).signingKey);
    const res = await postBuild(url, request);
    expect(res.status).toBe(202);
    expect(res.body.id).toBe(buildId);
    await killed;
    // The build finishes while no dispatcher runs: its result is due when the next one starts.
    await expect
      .poll(async () => (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${buildId}` })).items[0]?.status?.succeeded ?? 0, { timeout: 60_000 })
      .toBe(1);
    url = await startProcess();
    const mine = (s: { target_url: string | null; state: string }[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${buildId}`));
    await waitForStatuses(bed.github, (s) => mine(s).some((x) => finalStates.has(x.state)), 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(mine(bed.github.statuses()).map((s) => s.state)).toEqual(["pending", "success"]);
  });
});

describe("GitHub failing", () => {
  it.each([
    { kind: "server-error" as const, times: 2 },
    { kind: "secondary-rate-limit" as const, times: 1 },
  ])("still delivers each status exactly once after $times × $kind", async ({ kind, times }) => {
    const url = alive(child) ? `http://127.0.0.1:${port}` : await startProcess();
    const context = await uploadContext(url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /copied-${kind}\n`));
    const injectedBefore = bed.github.requests().filter((r) => r.injected).length;
    bed.github.failNext(times, kind, { retryAfterSeconds: 1 });
    const res = await postBuild(url, buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/gh-${kind}:1`], idempotencyKey: `gh/${kind}` }));
    expect(res.status).toBe(202);
    const mine = (s: { target_url: string | null; state: string }[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${res.body.id}`));
    await waitForStatuses(bed.github, (s) => mine(s).some((x) => finalStates.has(x.state)));
    await new Promise((r) => setTimeout(r, 2000));
    expect(mine(bed.github.statuses()).map((s) => s.state)).toEqual(["pending", "success"]);
    const injected = bed.github.requests().filter((r) => r.injected).slice(injectedBefore);
    expect(injected.map((r) => r.injected)).toEqual(Array(times).fill(kind));
  });
});

/** A child that has neither exited nor been killed (a killed one has no exit code, only its signal). */
function alive(p: ChildProcess | undefined): p is ChildProcess {
  return p !== undefined && p.exitCode === null && p.signalCode === null;
}
