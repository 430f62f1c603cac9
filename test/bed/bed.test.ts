// The test bed itself, proven on real components: the Kubernetes control
// plane built from upstream modules, the node agent, dockerd, the registry
// and buildkitd. Later tests build on exactly these behaviours.
import type { V1Job, V1Pod, CoreV1Event } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Writable } from "node:stream";
import { Log } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bedEnv, bedProcessEnv } from "./bed-env.js";
import { serveContexts, tarGz, type ContextServer } from "./context-server.js";
import { freshNamespace, kubeClients, podsOfJob, waitForJob, watchUntil, type KubeClients } from "./kube.js";
import { readConfig, readManifest } from "./registry.js";

const run = promisify(execFile);
const env = bedEnv();
const k: KubeClients = kubeClients(env.KUBECONFIG);
let ns = "";
let contexts: ContextServer;

const dockerfileOk = `FROM ${env.LINUX_BASE_IMAGE}
RUN echo built-by-dockerd > /built.txt
COPY hello.txt /hello.txt
`;
const dockerfileFails = `FROM ${env.LINUX_BASE_IMAGE}
RUN echo about to fail && exit 3
`;
// A nonce per run: dockerd's layer cache would otherwise replay the step without running it.
const dockerfileSlow = `FROM ${env.LINUX_BASE_IMAGE}
RUN echo step-one-started ${Date.now()} && sleep 6 && echo step-one-done
`;

beforeAll(async () => {
  ns = await freshNamespace(k.core, "bed");
  contexts = await serveContexts({
    "ok.tar.gz": await tarGz({ Dockerfile: dockerfileOk, "hello.txt": "hello\n" }),
    "fails.tar.gz": await tarGz({ Dockerfile: dockerfileFails }),
    "slow.tar.gz": await tarGz({ Dockerfile: dockerfileSlow }),
  });
});

afterAll(async () => {
  await contexts?.close();
  if (ns) await k.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

type Pool = "linux" | "windows-ltsc2022";

/** A build Job shaped like the ones dockhand's dockerd pool runs: plain docker CLI steps, socket mounted. */
function dockerBuildJob(name: string, pool: Pool, contextUrl: string, ref: string): V1Job {
  const windows = pool !== "linux";
  const socketPath = windows ? "\\\\.\\pipe\\docker_engine" : "/var/run/docker.sock";
  const dockerHost = windows ? "npipe:////./pipe/docker_engine" : "unix:///var/run/docker.sock";
  const container = (step: string, args: string[]) => ({
    name: step,
    // On the Windows nodes the image decides which docker CLI runs (the bed's image catalogue).
    image: windows ? "docker:29-windowsservercore-ltsc2022" : "docker:cli",
    command: ["docker"],
    args,
    env: [{ name: "DOCKER_HOST", value: dockerHost }, { name: "DOCKER_BUILDKIT", value: "0" }],
    volumeMounts: [{ name: "docker-engine", mountPath: socketPath }],
  });
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 600,
      template: {
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          nodeSelector: windows
            ? { "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348" }
            : { "kubernetes.io/os": "linux" },
          // Every Windows node of the bed is tainted as GKE taints them.
          tolerations: windows
            ? [{ key: "node.kubernetes.io/os", operator: "Equal", value: "windows", effect: "NoSchedule" }]
            : undefined,
          volumes: [{ name: "docker-engine", hostPath: { path: socketPath } }],
          initContainers: [container("build", ["build", "--tag", ref, contextUrl])],
          containers: [container("push", ["push", ref])],
        },
      },
    },
  };
}

async function logOf(pod: V1Pod, container: string): Promise<string> {
  return k.core.readNamespacedPodLog({ namespace: ns, name: pod.metadata!.name!, container });
}

/** docker push ends with "<tag>: digest: sha256:… size: N". */
function pushedDigest(pushLog: string): string {
  const m = /digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushLog);
  if (!m) throw new Error(`no digest in push log:\n${pushLog}`);
  return m[1]!;
}

describe.each([
  { pool: "linux" as const, node: "linux-0" },
  { pool: "windows-ltsc2022" as const, node: "win-ltsc2022-0" },
])("docker build Job on the $pool pool", ({ pool, node }) => {
  it(`runs on ${node}, is marked Complete by the Job controller, and its image is readable by digest`, async () => {
    const name = `build-${pool}`;
    const repo = `bed/${pool}`;
    const ref = `${env.REGISTRY}/${repo}:1`;
    await k.batch.createNamespacedJob({ namespace: ns, body: dockerBuildJob(name, pool, contexts.url("ok.tar.gz"), ref) });

    expect(await waitForJob(k, ns, name)).toBe("Complete");
    const [pod] = await podsOfJob(k, ns, name);
    expect(pod?.spec?.nodeName).toBe(node);
    expect(pod?.status?.phase).toBe("Succeeded");
    expect(await logOf(pod!, "build")).toContain("Successfully tagged");

    const digest = pushedDigest(await logOf(pod!, "push"));
    const manifest = await readManifest(env.REGISTRY, repo, digest);
    expect(manifest.digest).toBe(digest);
    expect(manifest.body.layers.length).toBeGreaterThanOrEqual(2);
  });
});

describe("a failing build", () => {
  it("fails the Job (backoffLimit 0) with the exit code and the last log lines readable through the API", async () => {
    const name = "build-fails";
    await k.batch.createNamespacedJob({
      namespace: ns,
      body: dockerBuildJob(name, "linux", contexts.url("fails.tar.gz"), `${env.REGISTRY}/bed/fails:1`),
    });
    expect(await waitForJob(k, ns, name)).toBe("Failed");
    const [pod] = await podsOfJob(k, ns, name);
    expect(pod?.status?.phase).toBe("Failed");
    const build = pod?.status?.initContainerStatuses?.find((s) => s.name === "build");
    expect(build?.state?.terminated?.exitCode).toBeGreaterThan(0);
    const tail = await k.core.readNamespacedPodLog({ namespace: ns, name: pod!.metadata!.name!, container: "build", tailLines: 5 });
    expect(tail).toContain("returned a non-zero code: 3");
    expect(tail.split("\n").filter(Boolean).length).toBeLessThanOrEqual(5);
  });
});

describe("pod logs", () => {
  it("stream through the API server with follow=true while the build still runs", async () => {
    const name = "build-slow";
    await k.batch.createNamespacedJob({
      namespace: ns,
      body: dockerBuildJob(name, "linux", contexts.url("slow.tar.gz"), `${env.REGISTRY}/bed/slow:1`),
    });
    const pod = await watchUntil<V1Pod, V1Pod>(
      k.kc,
      `/api/v1/namespaces/${ns}/pods`,
      { labelSelector: `batch.kubernetes.io/job-name=${name}` },
      (p) => (p.status?.initContainerStatuses?.[0]?.state?.running ? p : undefined),
      60_000,
    );
    let text = "";
    let sawStartWhileRunning: boolean | undefined;
    const sink = new Writable({
      write(chunk, _enc, next) {
        text += chunk.toString();
        // The RUN's own output line, not docker's echo of the instruction ("Step 2/2 : RUN echo …").
        if (sawStartWhileRunning === undefined && /^step-one-started \d+$/m.test(text)) {
          sawStartWhileRunning = false;
          k.core.readNamespacedPod({ namespace: ns, name: pod.metadata!.name! }).then((p) => {
            sawStartWhileRunning = !p.status?.initContainerStatuses?.[0]?.state?.terminated;
          });
        }
        next();
      },
    });
    // client-node pipes the response into the sink: the stream ending is the log ending.
    const finished = new Promise<void>((resolve, reject) => {
      sink.on("finish", resolve);
      sink.on("error", reject);
    });
    await new Log(k.kc).log(ns, pod.metadata!.name!, "build", sink, { follow: true });
    await finished;
    expect(text).toMatch(/^step-one-started \d+$/m);
    expect(text).toMatch(/^step-one-done$/m);
    expect(sawStartWhileRunning).toBe(true);
    expect(await waitForJob(k, ns, name)).toBe("Complete");
  });
});

describe("scheduling", () => {
  it("leaves a pod whose nodeSelector matches no node Pending with a FailedScheduling event from the real scheduler", async () => {
    const name = "no-such-build";
    await k.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name },
        spec: {
          nodeSelector: { "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.99999" },
          containers: [{ name: "c", image: "none", command: ["true"] }],
        },
      },
    });
    const event = await watchUntil<CoreV1Event, CoreV1Event>(
      k.kc,
      `/api/v1/namespaces/${ns}/events`,
      { fieldSelector: `involvedObject.name=${name}` },
      (e) => (e.reason === "FailedScheduling" ? e : undefined),
      60_000,
    );
    expect(event.message).toMatch(/0\/4 nodes are available/);
    const pod = await k.core.readNamespacedPod({ namespace: ns, name });
    expect(pod.status?.phase).toBe("Pending");
    expect(pod.spec?.nodeName).toBeUndefined();
  });
});

describe("RBAC", () => {
  it("denies create jobs to a ServiceAccount whose Role lacks it (403), and allows it once granted", async () => {
    await k.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "limited" } } });
    const role = (verbs: string[]) => ({
      metadata: { name: "limited" },
      rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs }],
    });
    await k.rbac.createNamespacedRole({ namespace: ns, body: role(["get", "list", "watch"]) });
    await k.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "limited" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "limited" },
        subjects: [{ kind: "ServiceAccount", name: "limited", namespace: ns }],
      },
    });
    const dir = mkdtempSync(join(tmpdir(), "sa-"));
    const kubeconfig = join(dir, "limited.kubeconfig");
    await run("testcluster", ["sa-kubeconfig", "--kubeconfig", env.KUBECONFIG, "--namespace", ns, "--name", "limited", "--out", kubeconfig], {
      env: bedProcessEnv(),
    });
    const limited = kubeClients(kubeconfig);
    const job = (name: string): V1Job => ({
      metadata: { name },
      spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "none", command: ["true"] }] } } },
    });

    await expect(limited.batch.listNamespacedJob({ namespace: ns })).resolves.toBeDefined();
    await expect(limited.batch.createNamespacedJob({ namespace: ns, body: job("denied") })).rejects.toMatchObject({ code: 403 });

    await k.rbac.replaceNamespacedRole({ namespace: ns, name: "limited", body: role(["get", "list", "watch", "create"]) });
    // The RBAC authorizer reads Roles from an informer: the grant lands within moments, not instantly.
    let created: V1Job | undefined;
    for (let attempt = 0; attempt < 50 && !created; attempt++) {
      created = await limited.batch.createNamespacedJob({ namespace: ns, body: job("allowed") }).catch((e) => {
        if (e.code !== 403) throw e;
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 100));
      });
    }
    expect(created?.metadata?.name).toBe("allowed");
  });
});

describe("BuildKit", () => {
  async function buildctl(args: string[]) {
    return run("buildctl", ["--addr", env.BUILDKIT_HOST, ...args], { env: bedProcessEnv(), maxBuffer: 16 << 20 });
  }
  function metadataFile(): string {
    return join(mkdtempSync(join(tmpdir(), "bk-")), "metadata.json");
  }
  const readJson = async (file: string) => JSON.parse(await import("node:fs/promises").then((fs) => fs.readFile(file, "utf8")));

  it("builds and pushes a Linux image with RUN from a remote context", async () => {
    const meta = metadataFile();
    const ref = `${env.REGISTRY}/bed/buildkit-linux:1`;
    await buildctl([
      "build", "--frontend", "dockerfile.v0",
      "--opt", `context=${contexts.url("ok.tar.gz")}`,
      "--opt", "platform=linux/amd64",
      "--output", `type=image,name=${ref},push=true,registry.insecure=true`,
      "--metadata-file", meta,
    ]);
    const digest = (await readJson(meta))["containerimage.digest"];
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const config = await readConfig(env.REGISTRY, "bed/buildkit-linux", digest);
    expect(config.os).toBe("linux");
  });

  it("cross-builds a windows/amd64 image with COPY only on the synthetic ltsc2022 base, keeping os.version", async () => {
    const dir = mkdtempSync(join(tmpdir(), "winctx-"));
    writeFileSync(join(dir, "Dockerfile"), `FROM ${env.WINDOWS_BASE_IMAGE}:ltsc2022\nCOPY app.exe /app/app.exe\n`);
    writeFileSync(join(dir, "app.exe"), "MZ not really a binary\n");
    const meta = metadataFile();
    const ref = `${env.REGISTRY}/bed/buildkit-windows:ltsc2022`;
    await buildctl([
      "build", "--frontend", "dockerfile.v0",
      "--local", `context=${dir}`, "--local", `dockerfile=${dir}`,
      "--opt", "platform=windows/amd64",
      "--output", `type=image,name=${ref},push=true,registry.insecure=true`,
      "--metadata-file", meta,
    ]);
    const digest = (await readJson(meta))["containerimage.digest"];
    const config = await readConfig(env.REGISTRY, "bed/buildkit-windows", digest);
    expect(config.os).toBe("windows");
    expect(config.architecture).toBe("amd64");
    expect(config["os.version"]).toMatch(/^10\.0\.20348\./);
    // skopeo is a registry client nobody here wrote: it must agree.
    const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", "--config", `docker://${ref}`]);
    expect(JSON.parse(stdout)["os.version"]).toBe(config["os.version"]);
  });
});
