// The dispatcher's container image (deploy/images/dispatcher) as the
// Deployment runs it: the bundled dispatcher on nothing but Node, user 65532,
// a read-only root with only /tmp and the contexts volume writable, the
// ConfigMap's config and a token of deploy/'s ServiceAccount mounted. Built
// and run on the bed's real dockerd; it must become ready and carry a build
// through to its commit status.
//
// The image is built from source by the Dockerfile's two stages, as the
// release workflow builds it. Neither official base can be pulled here, so
// the test makes both from this machine's own Node binary and the libraries
// it links: the run base the shape of distroless (Node at /nodejs/bin/node,
// the nonroot user, no shell), the build base Node with npm and busybox's
// shell. The build stage's `npm ci` reaches the npm registry through the
// host's network (the bed's dockerd has no bridge).
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bedProcessEnv } from "../bed/bed-env.js";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import { type Bed, buildRequest, ctx, finalStates, freePort, postBuild, setUpBed, uploadContext, waitForStatuses } from "../integration/harness.js";
import { adaptToBed, applyRbac, configFromConfigMap, render, repoRoot, serviceAccountKubeconfig } from "./deployed.js";

const baseImage = "dockhand-test/node-base:local";
const buildBaseImage = "dockhand-test/node-build-base:local";
const revision = "0123456789abcdef0123456789abcdef01234567";
const image = "dockhand-test/dispatcher:local";
const container = `dh-dispatcher-image-${process.pid}`;
const inContainer = { kubeconfig: "/var/run/dockhand/kubeconfig", contexts: "/var/lib/dockhand/contexts" };

let bed: Bed;
let url = "";
let metricsPort = 0;

function docker(args: string[], input?: Buffer): string {
  const result = spawnSync("docker", args, { env: { ...bedProcessEnv(), DOCKER_BUILDKIT: "0" }, input, encoding: "buffer", maxBuffer: 1 << 26 });
  if (result.status !== 0) throw new Error(`docker ${args.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout.toString();
}

/** What distroless's nodejs images hold, from this machine's Node: the binary, its shared libraries, the nonroot user. */
function nodeRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "dh-node-base-"));
  chmodSync(root, 0o755); // it becomes the image's /
  mkdirSync(join(root, "nodejs/bin"), { recursive: true });
  copyFileSync(process.execPath, join(root, "nodejs/bin/node"));
  chmodSync(join(root, "nodejs/bin/node"), 0o755);
  const libraries = execFileSync("ldd", [process.execPath], { encoding: "utf8" }).match(/\/\S+/g) ?? [];
  for (const library of libraries) {
    mkdirSync(join(root, dirname(library)), { recursive: true });
    copyFileSync(library, join(root, library));
  }
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\nnonroot:x:65532:\n");
  mkdirSync(join(root, "tmp"), { mode: 0o1777 });
  return root;
}

function importRoot(root: string, tag: string, env: string[] = []): void {
  docker(["import", ...env.flatMap((e) => ["--change", `ENV ${e}`]), "-", tag], execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 1 << 29 }));
}

/** The build stage's base, as node:*-slim is for it: Node on the PATH, npm, a shell (busybox's applets). */
function makeBuildBase(): void {
  const root = nodeRoot();
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  mkdirSync(join(root, "bin"), { recursive: true });
  mkdirSync(join(root, "root"), { mode: 0o700 });
  symlinkSync("/nodejs/bin/node", join(root, "usr/local/bin/node"));
  const npm = dirname(dirname(realpathSync(execFileSync("sh", ["-c", "command -v npm"], { encoding: "utf8" }).trim())));
  cpSync(npm, join(root, "usr/lib/node_modules/npm"), { recursive: true });
  symlinkSync("/usr/lib/node_modules/npm/bin/npm-cli.js", join(root, "usr/local/bin/npm"));
  const busybox = execFileSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).trim();
  copyFileSync(busybox, join(root, "usr/bin/busybox"));
  chmodSync(join(root, "usr/bin/busybox"), 0o755);
  for (const applet of execFileSync(busybox, ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean)) {
    if (!existsSync(join(root, "bin", applet))) symlinkSync("/usr/bin/busybox", join(root, "bin", applet));
  }
  symlinkSync("/usr/bin/busybox", join(root, "usr/bin/env")); // npm's #!/usr/bin/env node
  // This machine's CA bundle, which its Node is told to trust too: the registry may be reached through a TLS proxy.
  mkdirSync(join(root, "etc/ssl/certs"), { recursive: true });
  copyFileSync("/etc/ssl/certs/ca-certificates.crt", join(root, "etc/ssl/certs/ca-certificates.crt"));
  importRoot(root, buildBaseImage, ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt", "HOME=/root"]);
}

beforeAll(async () => {
  bed = await setUpBed("dh-image");
  importRoot(nodeRoot(), baseImage);
  makeBuildBase();
  // From the repository root, as the release workflow builds it: nothing prepared beforehand.
  docker([
    "build", "-q", "--network", "host", "-f", join(repoRoot, "deploy/images/dispatcher/Dockerfile"),
    "--build-arg", `BUILD_IMAGE=${buildBaseImage}`, "--build-arg", `NODE_IMAGE=${baseImage}`, "--build-arg", `DOCKHAND_REVISION=${revision}`,
    "-t", image, repoRoot,
  ]);

  const serviceAccount = applyRbac(render("deploy/base"), bed.namespace);
  const kubeconfig = serviceAccountKubeconfig(bed.namespace, serviceAccount);
  chmodSync(kubeconfig, 0o644);
  const contextsDir = mkdtempSync(join(tmpdir(), "dh-image-contexts-"));
  chmodSync(contextsDir, 0o777); // the PersistentVolume is group-writable through fsGroup 65532
  const port = await freePort();
  metricsPort = await freePort();
  const config = adaptToBed(configFromConfigMap(render("deploy/base")), {
    namespace: bed.namespace,
    kubeconfig: inContainer.kubeconfig,
    port,
    metricsPort,
    contextsDir: inContainer.contexts,
    githubUrl: bed.github.url,
    githubToken: "dispatcher-token",
    harness: bed.rawConfig(port),
  });
  const configDir = mkdtempSync(join(tmpdir(), "dh-image-config-"));
  chmodSync(configDir, 0o755);
  writeFileSync(join(configDir, "config.yaml"), stringify(config), { mode: 0o644 });

  // As the Deployment's pod: host network stands in for the pod network (the bed's dockerd has no bridge).
  docker([
    "run", "-d", "--name", container, "--network", "host",
    "--read-only", "--tmpfs", "/tmp", "--user", "65532:65532", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "-e", "DOCKHAND_CONFIG=/etc/dockhand/config.yaml", "-e", "POD_NAME=dockhand-image", "-e", `DOCKHAND_NAMESPACE=${bed.namespace}`,
    "-v", `${configDir}:/etc/dockhand:ro`, "-v", `${kubeconfig}:${inContainer.kubeconfig}:ro`, "-v", `${contextsDir}:${inContainer.contexts}`,
    image,
  ]);
  url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await fetch(`${url}/readyz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`the image's dispatcher was not ready within 60 s; its log:\n${docker(["logs", container])}`);
    await new Promise((r) => setTimeout(r, 250));
  }
});

afterAll(async () => {
  spawnSync("docker", ["rm", "-f", container], { env: bedProcessEnv(), stdio: "ignore" });
  // vfs copies every layer: leave no 100 MB images behind on a bed that is kept.
  spawnSync("docker", ["rmi", "-f", image, baseImage, buildBaseImage], { env: bedProcessEnv(), stdio: "ignore" });
  await bed?.close();
});

describe("the dispatcher image (deploy/images/dispatcher)", () => {
  it("runs as 65532 on a read-only root with Node and one bundled file, and is ready with deploy/'s ServiceAccount", async () => {
    const inspected = JSON.parse(docker(["inspect", container]))[0];
    expect(inspected.Config.User).toBe("65532:65532");
    expect(inspected.HostConfig.ReadonlyRootfs).toBe(true);
    expect(inspected.Config.Entrypoint).toEqual(["/nodejs/bin/node", "--enable-source-maps", "/app/dispatcher.mjs"]);
    // Nothing but Node: no shell to exec into.
    const shell = spawnSync("docker", ["run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"], { env: bedProcessEnv(), encoding: "utf8" });
    expect(shell.status).not.toBe(0);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("holds only the bundles under /app, built in the image from source, and reports its version and revision on the metrics port", async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
    const files = docker(["run", "--rm", "--entrypoint", "/nodejs/bin/node", image, "-e", "console.log(require('fs').readdirSync('/app').sort().join(' '))"]).trim();
    // The dispatcher, the doctor (kubectl exec … /app/doctor.mjs) and the operator CLI, each with its sourcemap and licences.
    expect(files).toBe(["cli", "dispatcher", "doctor"].flatMap((entry) => [`${entry}.mjs`, `${entry}.mjs.LEGAL.txt`, `${entry}.mjs.map`]).join(" "));
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toContain(`dockhand_build_info{version="${version}",revision="${revision}",nodejs_version="${process.versions.node}"} 1`);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });

  it("carries a build through: upload, a BuildKit Job, pending then success", async () => {
    const context = await uploadContext(url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY Dockerfile /copied-by-the-image\n`));
    const res = await postBuild(url, buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/deploy/image:1`], idempotencyKey: "deploy/image" }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.id as string;
    const mine = (s: RecordedStatus[]) => s.filter((x) => x.target_url?.endsWith(`/v1/builds/${id}`));
    const statuses = mine(await waitForStatuses(bed.github, (s) => mine(s).some((x) => finalStates.has(x.state)), 180_000));
    expect(statuses.map((s) => s.state)).toEqual(["pending", "success"]);
  });

  it("stops cleanly on SIGTERM as PID 1 (exit 0, not killed), as when Kubernetes ends the pod", () => {
    docker(["stop", "-t", "30", container]);
    const state = JSON.parse(docker(["inspect", container]))[0].State;
    expect({ exitCode: state.ExitCode, oomKilled: state.OOMKilled }).toEqual({ exitCode: 0, oomKilled: false });
  });
});
