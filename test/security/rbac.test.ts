// deploy/base's ServiceAccount, Role and RoleBinding applied to the real API
// server with `kubectl apply -k`: the `kubectl auth can-i` answers for that
// ServiceAccount match the matrix documented in docs/security.md row by row,
// and the dispatcher running on a token of it (TokenRequest, as its pod would
// have) does the whole core flow: builds on the dockerd pool and BuildKit,
// statuses, cancel, leader election. Its build pods carry no token.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { type Dispatcher, startDispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, buildRequest, cancelBuild, ctx, finalStates, freePort, heldBy, postBuild, setUpBed, statusesFor, uploadContext, waitForStatuses } from "../integration/harness.js";
import { dockerdPodsReader } from "../deploy/deployed.js";
import { stringify } from "yaml";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const serviceAccount = "dockhand-dispatcher";
let bed: Bed;
let dispatcher: Dispatcher;
let saKubeconfig = "";

function kubectl(kubeconfig: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(join(bed.env.BED_BIN, "testcluster"), ["kubectl", ...args], { env: { ...process.env, KUBECONFIG: kubeconfig }, encoding: "utf8", timeout: 60_000, input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface MatrixRow {
  verb: string;
  resource: string;
  namespace: string;
  allowed: boolean;
}

/** The can-i table of docs/security.md, exactly as documented. */
function documentedMatrix(): MatrixRow[] {
  const doc = readFileSync(join(repoRoot, "docs/security.md"), "utf8");
  const start = doc.indexOf("<!-- can-i matrix");
  const rows = doc.slice(start).split("\n").slice(1);
  const table: MatrixRow[] = [];
  for (const line of rows.slice(2)) {
    if (!line.startsWith("|")) break;
    const [verb, resource, namespace, allowed] = line.split("|").slice(1, -1).map((cell) => cell.trim());
    table.push({ verb: verb!, resource: resource!, namespace: namespace!, allowed: allowed === "yes" });
  }
  return table;
}

beforeAll(async () => {
  bed = await setUpBed("dh-sec-rbac");
  // An overlay that only moves deploy/base/rbac into this test's namespace.
  const overlay = mkdtempSync(join(tmpdir(), "dh-rbac-"));
  writeFileSync(
    join(overlay, "kustomization.yaml"),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ${bed.namespace}\nresources:\n  - ${relative(overlay, join(repoRoot, "deploy/base/rbac"))}\n`,
  );
  const applied = kubectl(bed.env.KUBECONFIG, ["apply", "-k", overlay]);
  expect(applied.status, applied.stderr).toBe(0);
  expect(applied.stdout).toMatch(/serviceaccount\/dockhand-dispatcher (created|unchanged)/);
  const reader = kubectl(bed.env.KUBECONFIG, ["apply", "-f", "-"], dockerdPodsReader(bed.namespace, serviceAccount).map((m) => stringify(m)).join("---\n"));
  expect(reader.status, reader.stderr).toBe(0);

  saKubeconfig = join(mkdtempSync(join(tmpdir(), "dh-sa-")), "kubeconfig");
  const minted = spawnSync(
    join(bed.env.BED_BIN, "testcluster"),
    ["sa-kubeconfig", "--kubeconfig", bed.env.KUBECONFIG, "--namespace", bed.namespace, "--name", serviceAccount, "--out", saKubeconfig],
    { encoding: "utf8" },
  );
  expect(minted.status, minted.stderr).toBe(0);

  const port = await freePort();
  const raw = bed.rawConfig(port);
  dispatcher = await startDispatcher(resolveConfig({ ...raw, kubernetes: { namespace: bed.namespace, kubeconfig: saKubeconfig } }, {}, "rbac"), {
    logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }),
  });
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

describe("the Role of deploy/base", () => {
  it("answers kubectl auth can-i exactly as docs/security.md documents, allowed and denied", () => {
    const matrix = documentedMatrix();
    expect(matrix.filter((row) => row.allowed).length).toBeGreaterThanOrEqual(15);
    expect(matrix.filter((row) => !row.allowed).length).toBeGreaterThanOrEqual(30);
    const answers = matrix.map((row) => {
      const scope = row.namespace === "cluster" ? ["--all-namespaces"] : ["-n", row.namespace === "build" ? bed.namespace : row.namespace];
      const result = kubectl(saKubeconfig, ["auth", "can-i", row.verb, ...row.resource.split(" "), ...scope]);
      const answer = result.stdout.trim();
      if (answer !== "yes" && answer !== "no") throw new Error(`kubectl auth can-i ${row.verb} ${row.resource}: ${result.stderr}`);
      return { ...row, actual: answer === "yes" };
    });
    expect(answers.filter((row) => row.actual !== row.allowed)).toEqual([]);
  });

  it("is bound in the namespace only: no ClusterRoleBinding names the ServiceAccount", () => {
    const result = kubectl(bed.env.KUBECONFIG, ["get", "clusterrolebindings", "-o", "json"]);
    expect(result.status).toBe(0);
    const bindings = JSON.parse(result.stdout).items as { metadata: { name: string }; subjects?: { kind: string; name: string; namespace?: string }[] }[];
    expect(bindings.filter((b) => b.subjects?.some((s) => s.kind === "ServiceAccount" && s.name === serviceAccount && s.namespace === bed.namespace))).toEqual([]);
    const roles = kubectl(bed.env.KUBECONFIG, ["get", "roles,rolebindings", "-n", bed.namespace, "-o", "name"]);
    expect(roles.stdout.trim().split("\n").sort()).toEqual(["role.rbac.authorization.k8s.io/dockhand-dispatcher", "rolebinding.rbac.authorization.k8s.io/dockhand-dispatcher"]);
  });
});

describe("the dispatcher on the ServiceAccount's token", () => {
  it("builds on the dockerd pool and with BuildKit, reports pending then success, and leads through the Lease", async () => {
    const windows = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo rbac ${Date.now()} > /r.txt\n`));
    // With a BuildKit secret: its Secret is made with the Role's create alone, owned by the Job.
    const linux = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /d\nRUN --mount=type=secret,id=token,required=true test "$(cat /run/secrets/token)" = rbac-secret\n`));
    const win = await postBuild(dispatcher.url, buildRequest(windows, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/rbac-win:1`], idempotencyKey: "rbac/win" }));
    const lin = await postBuild(dispatcher.url, buildRequest(linux, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/rbac-linux:1`], secrets: { token: "rbac-secret" }, idempotencyKey: "rbac/linux" }));
    expect(win.status, JSON.stringify(win.body)).toBe(202);
    expect(lin.status, JSON.stringify(lin.body)).toBe(202);
    expect(win.body.platforms[0].builder).toBe("docker");
    expect(lin.body.platforms[0].builder).toBe("buildkit");

    const done = (context: string) => (s: { context: string; state: string }[]) => statusesFor(s as never, context).some((x) => finalStates.has(x.state));
    const statuses = await waitForStatuses(bed.github, (s) => done("dockhand/windows-ltsc2022")(s) && done("dockhand/linux-amd64")(s));
    expect(statusesFor(statuses, "dockhand/windows-ltsc2022").map((s) => s.state)).toEqual(["pending", "success"]);
    expect(statusesFor(statuses, "dockhand/linux-amd64").map((s) => s.state)).toEqual(["pending", "success"]);
    const build = await (await fetch(`${dispatcher.url}/v1/builds/${win.body.id}`)).json();
    expect(build.platforms[0].digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const lease = await bed.k.kc.makeApiClient((await import("@kubernetes/client-node")).CoordinationV1Api).readNamespacedLease({ name: "dockhand-dispatcher", namespace: bed.namespace });
    expect(lease.spec?.holderIdentity).toBeTruthy();
  });

  it("runs build pods without a ServiceAccount token", async () => {
    const pods = (await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: "app.kubernetes.io/managed-by=dockhand" })).items;
    expect(pods.length).toBeGreaterThanOrEqual(2);
    for (const pod of pods) {
      expect(pod.spec?.automountServiceAccountToken, pod.metadata?.name).toBe(false);
      const tokenVolumes = (pod.spec?.volumes ?? []).filter((v) => v.projected?.sources?.some((s) => s.serviceAccountToken) || v.name.startsWith("kube-api-access"));
      expect(tokenVolumes, pod.metadata?.name).toEqual([]);
      const mounts = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].flatMap((c) => c.volumeMounts ?? []);
      expect(mounts.filter((m) => m.mountPath.startsWith("/var/run/secrets/kubernetes.io"))).toEqual([]);
    }
  });

  it("cancels: suspends the Jobs, stops their pods, and reports error Cancelled", async () => {
    const slow = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo rbac-cancel ${Date.now()} && sleep 120\n`));
    const res = await postBuild(dispatcher.url, buildRequest(slow, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/rbac-cancel:1`], idempotencyKey: "rbac/cancel" }));
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await expect.poll(async () => (await (await fetch(`${dispatcher.url}/v1/builds/${id}`)).json()).state, { timeout: 60_000 }).toBe("running");
    const mine = (s: { target_url: string | null; state: string; description: string | null }[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${id}`));
    // Its pending is out (a build cancelled before that gets no status at all).
    await waitForStatuses(bed.github, (s) => mine(s).some((x) => x.state === "pending"), 60_000);
    expect((await cancelBuild(dispatcher.url, id)).status).toBe(202);
    const statuses = mine(await waitForStatuses(bed.github, (s) => mine(s).some((x) => finalStates.has(x.state)), 60_000));
    expect(statuses.at(-1)).toMatchObject({ state: "error", description: "Cancelled" });
    // Suspended (its pod stopped) and let go: the ServiceAccount may patch what cancelling needs.
    await expect.poll(() => heldBy(bed, id), { timeout: 30_000 }).toBe(0);
  });
});
