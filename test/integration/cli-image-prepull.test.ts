// Windows pod start (issue 15): the docker CLI image is on a pool node before
// any build needs it. On the bed's emulation (test/cluster/nodeagent/node_images.go)
// a node "pulls" a catalogue image the first time a container of it starts,
// lists it in status.images as a kubelet does, and keeps it; deleting its
// file is the emulation's crictl rmi. This file takes a CLI image no deploy/
// default names (docker:29.8.2-windowsservercore-ltsc2022, in the bed's
// catalogue for this), removes it from win-ltsc2022-0, and shows:
//   - the node without it: the doctor's row FAILs naming the node, the gauge is 1;
//   - once a docker-cli DaemonSet's pod (deploy/base/docker-cli-images.yaml,
//     with that image) has run there: the row is ok, the gauge 0;
//   - a build's pod on that node then finds the image already present: no pull.

import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import type { CheckResult } from "../../dispatcher/doctor/check.js";
import { runDoctor } from "../../dispatcher/doctor/doctor.js";
import { renderTable } from "../../dispatcher/doctor/report.js";
import { kubectl, repoRoot } from "../deploy/deployed.js";
import { type Bed, buildRequest, ctx, finalStates, freePort, postBuild, setUpBed, uploadContext, waitForStatuses } from "./harness.js";

const node = "win-ltsc2022-0";
const cliImage = "docker:29.8.2-windowsservercore-ltsc2022";
const cliImageNormalised = "docker.io/library/docker:29.8.2-windowsservercore-ltsc2022";
const testLabel = "dockhand.dev/test";
const testLabelValue = "cli-image-prepull";

let bed: Bed;
let dispatcher: Dispatcher;
let raw: Record<string, any>;
let dockerdNamespace: string;

async function waitFor<T>(what: string, get: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const nodeImageNames = async () => ((await bed.k.core.readNode({ name: node })).status?.images ?? []).flatMap((image) => image.names ?? []);

async function missingGauge(): Promise<number | undefined> {
  const metric = await dispatcher.metrics.registry.getSingleMetric("dockhand_dockerd_pool_nodes_missing_cli_image")!.get();
  return metric.values.find((value) => value.labels.windows_version === "ltsc2022")?.value;
}

async function cliImageRow(): Promise<CheckResult> {
  const results = await runDoctor({ config: resolveConfig(raw, {}, "cli-image test"), kc: bed.k.kc, serviceAccount: "default", probeTimeoutSeconds: 30, only: ["pools"] });
  console.log(renderTable(results, 0));
  const row = results.find((result) => result.name === "pool ltsc2022: docker CLI image");
  if (!row) throw new Error(`no CLI image row: ${results.map((r) => r.name).join(", ")}`);
  return row;
}

/** deploy/base's docker-cli-ltsc2022 DaemonSet with this test's image, under a name and selector of its own beside the bed's. */
function testDaemonSet(): string {
  const daemonSet = parseAllDocuments(readFileSync(join(repoRoot, "deploy/base/docker-cli-images.yaml"), "utf8"))
    .map((doc) => doc.toJSON())
    .find((m) => m?.metadata?.name === "docker-cli-ltsc2022");
  daemonSet.metadata.name = `docker-cli-ltsc2022-${bed.namespace}`.slice(0, 63);
  daemonSet.metadata.labels[testLabel] = testLabelValue;
  daemonSet.spec.selector.matchLabels[testLabel] = testLabelValue;
  daemonSet.spec.template.metadata.labels[testLabel] = testLabelValue;
  daemonSet.spec.template.spec.initContainers[0].image = cliImage;
  return stringify(daemonSet);
}

beforeAll(async () => {
  bed = await setUpBed("dh-cli-image");
  dockerdNamespace = bed.env.DOCKERD_NAMESPACE ?? "dockhand-dockerd";
  // A kept bed started before the emulation kept images cannot show any of this: say so as a failure, never a skip.
  // (On a current bed the node lists at least the dockerd-hostprocess image its dockerd pod ran.)
  if ((await nodeImageNames()).length === 0) {
    throw new Error(`${node} lists no status.images: the bed's node agent predates test/cluster/nodeagent/node_images.go; restart the bed (test/bed/down, test/bed/up) to run this file`);
  }
  // What an earlier run left: its DaemonSet (and pods) first, then the image on the node (crictl rmi, emulated).
  kubectl(["-n", dockerdNamespace, "delete", "daemonset", "-l", `${testLabel}=${testLabelValue}`, "--wait=true", "--ignore-not-found"]);
  await waitFor(
    "the earlier run's docker-cli pods gone",
    async () => (await bed.k.core.listNamespacedPod({ namespace: dockerdNamespace, labelSelector: `${testLabel}=${testLabelValue}` })).items.length,
    (count) => count === 0,
  );
  const images = join(bed.env.BED_DIR, "nodes", "node", node, "images");
  for (const file of existsSync(images) ? readdirSync(images) : []) {
    const held = JSON.parse(readFileSync(join(images, file), "utf8")) as { reference?: string };
    if (held.reference === cliImageNormalised) rmSync(join(images, file));
  }
  await waitFor(`${node}'s status.images without ${cliImage}`, nodeImageNames, (names) => !names.includes(cliImageNormalised), 15_000);

  const port = await freePort();
  const bedRaw = bed.rawConfig(port) as Record<string, any>;
  raw = { ...bedRaw, dockerPool: { ...bedRaw.dockerPool, pools: { ltsc2022: bedRaw.dockerPool.pools.ltsc2022 }, images: { ltsc2022: cliImage } } };
  dispatcher = await startDispatcher(resolveConfig(raw, {}, "cli-image test"), { logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }) });
});

afterAll(async () => {
  await dispatcher?.close();
  if (dockerdNamespace) kubectl(["-n", dockerdNamespace, "delete", "daemonset", "-l", `${testLabel}=${testLabelValue}`, "--ignore-not-found"]);
  await bed?.close();
});

describe("the docker CLI image on every pool node", () => {
  it("a node without it: the doctor's row FAILs naming the node and the fix, the gauge counts it", async () => {
    const row = await cliImageRow();
    expect(row.outcome).toBe("FAIL");
    expect(row.detail).toContain(`${node} does not hold ${cliImage} (dockerPool.images.ltsc2022)`);
    expect(row.fix).toContain(`apply the docker-cli-ltsc2022 DaemonSet (deploy/base/docker-cli-images.yaml) in ${dockerdNamespace}`);
    // The bed's own docker-cli pod on the node ran docker:29-windowsservercore-ltsc2022, not this config's image: it does not count.
    await waitFor("the missing-CLI-image gauge at 1", missingGauge, (value) => value === 1, 15_000);
  });

  it("once the docker-cli pod ran it there: the row is ok and the gauge 0; the pod did the pull", async () => {
    const applied = kubectl(["-n", dockerdNamespace, "apply", "-f", "-"], testDaemonSet());
    expect(applied.status, applied.stderr).toBe(0);
    const pod = (await waitFor(
      "the test's docker-cli pod Running",
      async () => (await bed.k.core.listNamespacedPod({ namespace: dockerdNamespace, labelSelector: `${testLabel}=${testLabelValue}` })).items[0],
      (p) => p?.status?.phase === "Running",
    ))!;
    expect(pod.spec?.nodeName).toBe(node);
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
    await waitFor(`${node}'s status.images with ${cliImage}`, nodeImageNames, (names) => names.includes(cliImageNormalised), 15_000);

    const row = await cliImageRow();
    expect(row.outcome).toBe("ok");
    expect(row.detail).toBe(`${cliImage} on every Ready node (${node})`);
    await waitFor("the missing-CLI-image gauge at 0", missingGauge, (value) => value === 0, 15_000);

    const events = (await bed.k.core.listNamespacedEvent({ namespace: dockerdNamespace, fieldSelector: `involvedObject.name=${pod.metadata!.name}` })).items;
    expect(events.map((e) => `${e.reason}: ${e.message}`)).toEqual(expect.arrayContaining([`Pulling: Pulling image "${cliImage}"`, expect.stringMatching(/^Pulled: Successfully pulled image "docker:29\.8\.2-windowsservercore-ltsc2022"/)]));
  });

  it("a build's pod on that node finds the CLI image already present: nothing pulled in the build's path", async () => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo cli-image > /made.txt\n`));
    const res = await postBuild(dispatcher.url, buildRequest(context, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/cli-image:1`], idempotencyKey: `cli-image/${bed.namespace}` }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const buildId = (res.body as { id: string }).id;
    await waitForStatuses(bed.github, (all) => all.some((s) => s.target_url?.endsWith(`/v1/builds/${buildId}`) && finalStates.has(s.state)));
    const pod = (await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${buildId}` })).items[0]!;
    expect(pod.spec?.nodeName).toBe(node);
    const images = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.image);
    expect(images).toContain(cliImage);
    const events = (await bed.k.core.listNamespacedEvent({ namespace: bed.namespace, fieldSelector: `involvedObject.name=${pod.metadata!.name}` })).items.map((e) => `${e.reason}: ${e.message}`);
    const ofCli = events.filter((e) => e.includes(`"${cliImage}"`));
    expect(ofCli.length).toBeGreaterThan(0);
    expect(ofCli.every((e) => e === `Pulled: Container image "${cliImage}" already present on machine`), ofCli.join("\n")).toBe(true);
  });
});
