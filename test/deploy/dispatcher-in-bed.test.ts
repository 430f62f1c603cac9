// The dispatcher as deploy/ runs it: the base's ServiceAccount, Role and
// RoleBinding applied for real, a token of that ServiceAccount (no admin
// credentials), the ConfigMap's config with only the bed's addresses
// changed. One replica builds; two replicas elect one leader, which alone
// reports, and when it is killed the other takes over and reports the rest.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import { dispatcherLeaseName } from "../../dispatcher/kube/leader-election.js";
import { CoordinationV1Api } from "@kubernetes/client-node";
import {
  type Bed,
  buildRequest,
  ctx,
  finalStates,
  freePort,
  postBuild,
  setUpBed,
  uploadContext,
  waitForStatuses,
} from "../integration/harness.js";
import { adaptToBed, applyRbac, configFromConfigMap, render, repoRoot, serviceAccountKubeconfig } from "./deployed.js";

let bed: Bed;
let kubeconfig = "";
let contextsDir = "";
const children: ChildProcess[] = [];

const deployedConfig = async (port: number) =>
  adaptToBed(configFromConfigMap(render("deploy/base")), {
    namespace: bed.namespace,
    kubeconfig,
    port,
    contextsDir,
    githubUrl: bed.github.url,
    githubToken: "dispatcher-token",
    harness: bed.rawConfig(port),
  });

const leaseHolder = async () => {
  const api = bed.k.kc.makeApiClient(CoordinationV1Api);
  const lease = await api.readNamespacedLease({ name: dispatcherLeaseName, namespace: bed.namespace }).catch(() => undefined);
  return lease?.spec?.holderIdentity;
};

const byBuild = (statuses: { target_url: string | null; state: string }[], id: string) => statuses.filter((s) => s.target_url?.endsWith(`/v1/builds/${id}`));

beforeAll(async () => {
  bed = await setUpBed("dh-deploy");
  const serviceAccount = applyRbac(render("deploy/base"), bed.namespace);
  kubeconfig = serviceAccountKubeconfig(bed.namespace, serviceAccount);
  // Shared by every replica, as the ReadWriteMany PVC is.
  contextsDir = mkdtempSync(join(tmpdir(), "dh-deploy-contexts-"));
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await bed?.close();
});

describe("one replica from deploy/'s ServiceAccount and config", () => {
  let dispatcher: Dispatcher;
  afterAll(async () => {
    await dispatcher?.close();
  });

  it("leads, builds a Windows RUN on the dockerd pool and a COPY-only Windows image on BuildKit, and reports both", async () => {
    const port = await freePort();
    dispatcher = await startDispatcher(resolveConfig(await deployedConfig(port), {}, "deploy/base ConfigMap"), {
      logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }),
      leaderElection: { identity: "dockhand-in-process" },
    });
    const runContext = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo built > /built.txt\n`));
    const copyContext = await uploadContext(dispatcher.url, ctx(`ARG DOCKHAND_BASE_IMAGE\nFROM ${bed.env.WINDOWS_BASE_IMAGE}:ltsc2022\nCOPY app.txt /app.txt\n`, { "app.txt": "app\n" }));
    const run = await postBuild(dispatcher.url, buildRequest(runContext, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/deploy/run:1`], idempotencyKey: "deploy/run" }));
    const copy = await postBuild(dispatcher.url, buildRequest(copyContext, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/deploy/copy:1`], idempotencyKey: "deploy/copy" }));
    expect(run.status, JSON.stringify(run.body)).toBe(202);
    expect(copy.status, JSON.stringify(copy.body)).toBe(202);
    expect(run.body.platforms[0].builder).toBe("docker");
    expect(copy.body.platforms[0].builder).toBe("buildkit");

    const ids = [run.body.id, copy.body.id];
    await waitForStatuses(bed.github, (s) => ids.every((id) => byBuild(s, id).some((x) => finalStates.has(x.state))), 180_000);
    for (const id of ids) expect(byBuild(bed.github.statuses(), id).map((s) => s.state)).toEqual(["pending", "success"]);
    expect(await leaseHolder()).toBe("dockhand-in-process");
    expect(dispatcher.leaderElector?.isLeader).toBe(true);
  });
});

describe("two replicas", () => {
  interface Replica {
    name: string;
    url: string;
    child: ChildProcess;
    reported: () => number;
  }

  async function startReplica(name: string): Promise<Replica> {
    const port = await freePort();
    const file = join(mkdtempSync(join(tmpdir(), "dh-deploy-config-")), "config.yaml");
    writeFileSync(file, stringify(await deployedConfig(port)));
    const child = spawn(process.execPath, ["--import", "tsx", "dispatcher/main.ts"], {
      cwd: repoRoot,
      env: { ...process.env, DOCKHAND_CONFIG: file, POD_NAME: name, DOCKHAND_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(child);
    let reported = 0;
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) if (line.includes('"msg":"commit status reported"')) reported++;
    });
    const url = `http://127.0.0.1:${port}`;
    await expect.poll(() => fetch(`${url}/readyz`).then((r) => r.ok, () => false), { timeout: 60_000, interval: 200 }).toBe(true);
    return { name, url, child, reported: () => reported };
  }

  it("exactly one reconciles; builds are reported once; killing the leader hands over within the lease duration", async () => {
    // The in-process replica above released the Lease on close().
    const a = await startReplica("dockhand-a");
    await expect.poll(leaseHolder, { timeout: 30_000, interval: 250 }).toBe("dockhand-a");
    const b = await startReplica("dockhand-b");

    // Both serve the API: the build goes through b, the follower; a reports it.
    const quick = await uploadContext(b.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /copied\n`));
    const first = await postBuild(b.url, buildRequest(quick, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/deploy/ha-0:1`], idempotencyKey: "deploy/ha-0" }));
    expect(first.status).toBe(202);
    await waitForStatuses(bed.github, (s) => byBuild(s, first.body.id).some((x) => finalStates.has(x.state)));
    await new Promise((r) => setTimeout(r, 2000));
    expect(byBuild(bed.github.statuses(), first.body.id).map((s) => s.state)).toEqual(["pending", "success"]);
    expect(a.reported()).toBe(2);
    expect(b.reported()).toBe(0);

    // Builds through b that are still running when the leader dies.
    const slow = await uploadContext(b.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo start ${Date.now()} && sleep 10 && echo done\n`));
    const ids: string[] = [];
    for (const [i, platform] of ["windows/amd64:ltsc2022", "linux/amd64", "windows/amd64:ltsc2019"].entries()) {
      const res = await postBuild(b.url, buildRequest(slow, { platforms: [platform], tags: [`${bed.env.REGISTRY}/deploy/ha-${i + 1}:1`], idempotencyKey: `deploy/ha-${i + 1}` }));
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    await waitForStatuses(bed.github, (s) => ids.every((id) => byBuild(s, id).some((x) => x.state === "pending")), 60_000);
    const reportedByA = a.reported();
    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    await expect.poll(leaseHolder, { timeout: 40_000, interval: 100 }).toBe("dockhand-b");
    const takeoverSeconds = (Date.now() - killedAt) / 1000;
    // leaseDurationSeconds (15) after the last change b saw, which is at most
    // one retry period (2 s) before the kill, plus b's own retry period.
    expect(takeoverSeconds).toBeLessThanOrEqual(15 + 2 * 2 + 1);

    await waitForStatuses(bed.github, (s) => ids.every((id) => byBuild(s, id).some((x) => finalStates.has(x.state))), 180_000);
    await new Promise((r) => setTimeout(r, 3000));
    for (const id of ids) {
      const states = byBuild(bed.github.statuses(), id).map((s) => s.state);
      expect(states, `build ${id}`).toEqual(["pending", "success"]);
    }
    expect(b.reported()).toBeGreaterThan(0);
    // Counted on GitHub's side, not from the replicas' logs: a SIGKILL can land
    // between GitHub's answer and a's log line, and b then finds that status
    // on GitHub and records it without sending (the exactly-once lookup).
    const all = bed.github.statuses().filter((s) => [first.body.id, ...ids].some((id) => byBuild([s], id).length > 0));
    expect(all).toHaveLength(2 + ids.length * 2);
    expect(reportedByA + b.reported()).toBeLessThanOrEqual(2 + ids.length * 2);
    console.log(`leader killed; dockhand-b took over after ${takeoverSeconds.toFixed(1)} s`);
  });
});
