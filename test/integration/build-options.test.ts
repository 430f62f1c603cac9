// build-push-action's options on the real bed (issue 13): a secret reaches
// RUN --mount=type=secret and nothing else; no-cache rebuilds every step (on
// BuildKit and on the dockerd pool); a registry cache written by one BuildKit
// is read by another that never ran the build; provenance and annotations are
// in the pushed index.

import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import { bedEnv } from "../bed/bed-env.js";
import { readManifest } from "../bed/registry.js";
import { type Bed, buildRequest, ctx, finalStates, freePort, postBuild, setUpBed, statusesFor, uploadContext, waitForStatuses } from "./harness.js";

let bed: Bed;
let dispatcher: Dispatcher;
let dispatcherLog = "";
const nonce = randomBytes(6).toString("hex");

beforeAll(async () => {
  bed = await setUpBed("dh-options");
  // Everything the dispatcher logs, at debug, to search for the secret.
  const stream = new PassThrough();
  stream.on("data", (chunk: Buffer) => (dispatcherLog += chunk.toString("utf8")));
  dispatcher = await startDispatcher(bed.config(await freePort()), { logger: pino({ level: "debug" }, stream) });
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

async function build(body: Record<string, unknown>, url = dispatcher.url, context = "dockhand/linux-amd64") {
  const res = await postBuild(url, body);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const id = res.body.id as string;
  await waitForStatuses(bed.github, (all) => statusesFor(all.filter((s) => s.target_url?.endsWith(`/v1/builds/${id}`)), context).some((s) => finalStates.has(s.state)), 240_000);
  const state = await (await fetch(`${url}/v1/builds/${id}`)).json();
  const logs = await (await fetch(`${url}/v1/builds/${id}/logs`)).text();
  return { id, state, logs: logs.split("\n").filter(Boolean).map((line) => JSON.parse(line).line as string).filter((line) => typeof line === "string") };
}

/**
 * A stand-in SBOM generator (BuildKit's SBOM scanner protocol: it writes
 * `<scan>.spdx.json` in-toto statements to $BUILDKIT_SCAN_DESTINATION):
 * the default, docker/buildkit-syft-scanner, is on Docker Hub, which the bed
 * does not reach. Built with the bed's buildctl into the bed registry.
 */
async function pushStandInScanner(ref: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "dh-scanner-"));
  try {
    const statement = JSON.stringify({
      _type: "https://in-toto.io/Statement/v0.1",
      predicateType: "https://spdx.dev/Document",
      predicate: { spdxVersion: "SPDX-2.3", dataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", name: `dockhand-stand-in-scan-${nonce}`, documentNamespace: `https://dockhand.invalid/${nonce}`, creationInfo: { created: "2026-01-01T00:00:00Z", creators: ["Tool: dockhand-test"] }, packages: [] },
    });
    writeFileSync(join(dir, "scan.spdx.json"), statement);
    writeFileSync(join(dir, "Dockerfile"), `FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY scan.spdx.json /scan.spdx.json\nCMD ["sh", "-c", "cp /scan.spdx.json \\"$BUILDKIT_SCAN_DESTINATION/dockhand.spdx.json\\""]\n`);
    const code = await run(join(bed.env.BED_BIN, "buildctl"), [
      "--addr", bed.env.BUILDKIT_HOST, "build", "--frontend=dockerfile.v0", `--local=context=${dir}`, `--local=dockerfile=${dir}`,
      `--output=type=image,name=${ref},push=true,registry.insecure=true`,
    ]);
    expect(code, "building the stand-in scanner").toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe("secrets", () => {
  it("reach RUN --mount=type=secret, in a Secret the Jobs own, and appear nowhere else", async () => {
    const value = `s3cr3t-${nonce}-${randomBytes(8).toString("hex")}`;
    const sha = createHash("sha256").update(value).digest("hex");
    // The Dockerfile holds the secret's hash, never the secret: the build
    // only succeeds when the mounted file holds exactly the value sent.
    const dockerfile = [
      `FROM ${bed.env.LINUX_BASE_IMAGE}`,
      `RUN --mount=type=secret,id=token,required=true test "$(sha256sum /run/secrets/token | cut -c1-64)" = "${sha}" && echo "secret reached the build ${nonce}"`,
    ].join("\n");
    const context = await uploadContext(dispatcher.url, ctx(dockerfile));
    const repo = "bed/options-secret";
    const { id, state, logs } = await build(buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/${repo}:${nonce}`], secrets: { token: value }, idempotencyKey: `options/secret/${nonce}` }));
    expect(state.platforms[0], logs.join("\n")).toMatchObject({ state: "succeeded", builder: "buildkit" });
    expect(logs.some((line) => line.includes(`secret reached the build ${nonce}`))).toBe(true);

    // Nowhere else: the build's logs, its Jobs and pods (spec, annotations), the stored context, the image, the dispatcher's log.
    expect(logs.join("\n")).not.toContain(value);
    const selector = `dockhand.dev/build-id=${id}`;
    const jobs = await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: selector });
    const pods = await bed.k.core.listNamespacedPod({ namespace: bed.namespace, labelSelector: selector });
    expect(jobs.items).toHaveLength(1);
    expect(pods.items.length).toBeGreaterThan(0);
    expect(JSON.stringify([jobs.items, pods.items])).not.toContain(value);
    for (const file of filesUnder(dispatcher.config.contexts.dir)) expect(readFileSync(file).includes(value), file).toBe(false);
    const manifest = await readManifest(bed.env.REGISTRY, repo, nonce);
    const config = await (await fetch(`http://${bed.env.REGISTRY}/v2/${repo}/blobs/${manifest.body.config.digest}`)).text();
    expect(config).not.toContain(value);
    expect(dispatcherLog).toContain(id);
    expect(dispatcherLog).not.toContain(value);

    // The Secret: named on the Job, owned by it, and deleted with it.
    const job = jobs.items[0]!;
    const secretName = job.metadata!.annotations!["dockhand.dev/build-secret"]!;
    expect(secretName).toBe(`dh-${id}-secrets`);
    const secret = await bed.k.core.readNamespacedSecret({ namespace: bed.namespace, name: secretName });
    expect(secret.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: "Job", name: job.metadata!.name, uid: job.metadata!.uid })]);
    expect(Buffer.from(secret.data!["token"]!, "base64").toString("utf8")).toBe(value);
    // Once reported the Job is let go (its finalizer removed); deleting it takes the Secret with it.
    await waitFor(async () => !((await bed.k.batch.readNamespacedJob({ namespace: bed.namespace, name: job.metadata!.name! })).metadata!.finalizers ?? []).includes("dockhand.dev/report"));
    await bed.k.batch.deleteNamespacedJob({ namespace: bed.namespace, name: job.metadata!.name!, propagationPolicy: "Background" });
    await waitFor(async () => (await bed.k.core.listNamespacedSecret({ namespace: bed.namespace })).items.every((s) => s.metadata!.name !== secretName), 60_000);
  });

  it("reach RUN --mount=type=secret through the local executor, from 0600 files that are gone after the step", async () => {
    const value = `local-s3cr3t-${nonce}-${randomBytes(8).toString("hex")}`;
    const sha = createHash("sha256").update(value).digest("hex");
    const port = await freePort();
    const config = resolveConfig({ ...bed.rawConfig(port), executor: "local", local: { buildkitAddress: bed.env.BUILDKIT_HOST, dockerHost: `unix://${join(bed.env.BED_DIR, "docker/docker.sock")}` } }, {}, "test");
    const savedPath = process.env["PATH"];
    process.env["PATH"] = `${bed.env.BED_BIN}:${savedPath}`; // buildctl from PATH, as a deployment has it
    const local = await startDispatcher(config, { logger: pino({ level: "warn" }) });
    try {
      const context = await uploadContext(local.url, ctx([
        `FROM ${bed.env.LINUX_BASE_IMAGE}`,
        `RUN --mount=type=secret,id=token,required=true test "$(sha256sum /run/secrets/token | cut -c1-64)" = "${sha}" && echo "local secret reached the build ${nonce}" && sleep 2`,
      ].join("\n")));
      const res = await postBuild(local.url, buildRequest(context, { platforms: ["linux/amd64"], push: false, tags: [], secrets: { token: value }, idempotencyKey: `options/local-secret/${nonce}` }));
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      // While the step runs: the directory and its file, readable by this user only.
      const dir = join(tmpdir(), `dockhand-secrets-${res.body.id}-linux-amd64`);
      let modes: string | undefined;
      await waitFor(async () => {
        modes = `${(statSync(dir).mode & 0o777).toString(8)} ${(statSync(join(dir, "token")).mode & 0o777).toString(8)}`;
        return true;
      }, 60_000);
      expect(modes).toBe("700 600");
      await waitForStatuses(bed.github, (all) => all.some((s) => s.target_url?.endsWith(`/v1/builds/${res.body.id}`) && finalStates.has(s.state)), 120_000);
      const state = await (await fetch(`${local.url}/v1/builds/${res.body.id}`)).json();
      const logs = await (await fetch(`${local.url}/v1/builds/${res.body.id}/logs`)).text();
      expect(state.platforms[0].state, logs).toBe("succeeded");
      expect(logs).toContain(`local secret reached the build ${nonce}`);
      expect(logs).not.toContain(value);
      expect(() => statSync(dir)).toThrow(/ENOENT/);
      // The executor's state (build.json: argv, steps) names the path, never the value.
      const stateDir = join(config.contexts.dir, "..", "local-builds", "builds", res.body.id);
      const stored = filesUnder(stateDir).map((file) => readFileSync(file, "utf8")).join("\n");
      expect(stored).toContain(`--secret=id=token,src=${dir}/token`);
      expect(stored).not.toContain(value);
    } finally {
      await local.close();
      process.env["PATH"] = savedPath;
    }
  });

  it("are refused for a platform the dockerd pool builds, saying what to do, and create nothing", async () => {
    // A Windows RUN stage (the emulated pool runs a Linux base): the classic builder's, which has no secrets to give it.
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo needs a token\n`));
    const res = await postBuild(dispatcher.url, buildRequest(context, { platforms: ["windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/bed/options-refused:1`], secrets: { token: `refused-${nonce}` }, idempotencyKey: `options/refused/${nonce}` }));
    expect(res.status).toBe(422);
    expect(res.body, JSON.stringify(res.body)).toMatchObject({ field: "secrets" });
    expect(res.body.error).toContain("whose classic builder has no build secrets");
    expect(res.body.hint).toContain("builder: buildkit");
    expect(JSON.stringify(res.body)).not.toContain(`refused-${nonce}`);
    const secrets = await bed.k.core.listNamespacedSecret({ namespace: bed.namespace });
    expect(secrets.items.filter((s) => s.metadata!.name!.endsWith("-secrets"))).toEqual([]);
  });
});

describe("no-cache", () => {
  // A step BuildKit or the classic builder would take from its cache on a
  // second build; the nonce makes it this run's own.
  const dockerfile = `FROM ${bedEnv().LINUX_BASE_IMAGE}\nRUN echo "step ran ${nonce}" && date +%s%N > /stamp\n`;

  /** BuildKit's vertex number of this run's RUN step, and whether it was taken from the cache. */
  function runStep(logs: string[]): { cached: boolean; ran: boolean } {
    const step = logs.find((line) => line.includes(`RUN echo "step ran ${nonce}"`))?.match(/^#(\d+) /)?.[1];
    expect(step, logs.join("\n")).toBeDefined();
    return { cached: logs.includes(`#${step} CACHED`), ran: logs.some((line) => new RegExp(`^#${step} [0-9.]+ step ran ${nonce}$`).test(line)) };
  }

  it("rebuilds every step on BuildKit; without it the same build is cached", async () => {
    const context = await uploadContext(dispatcher.url, ctx(dockerfile));
    const body = (key: string, extra: Record<string, unknown> = {}) => buildRequest(context, { platforms: ["linux/amd64"], push: false, tags: [], idempotencyKey: `options/nocache/${key}/${nonce}`, ...extra });
    const first = await build(body("first"));
    expect(first.state.platforms[0].state).toBe("succeeded");
    expect(runStep((await build(body("cached"))).logs)).toEqual({ cached: true, ran: false });
    const fresh = await build(body("fresh", { noCache: true }));
    expect(fresh.state.platforms[0].state).toBe("succeeded");
    expect(runStep(fresh.logs)).toEqual({ cached: false, ran: true });
    // Every step: nothing but the context and the base image (sources, not steps) is CACHED.
    const cachedSteps = fresh.logs.filter((line) => / CACHED$/.test(line)).map((line) => line.split(" ")[0]);
    const steps = fresh.logs.filter((line) => /^#\d+ \[\d+\/\d+\] (?!FROM)/.test(line)).map((line) => line.split(" ")[0]);
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.filter((step) => cachedSteps.includes(step))).toEqual([]);
  });

  it("passes no-cache and pull to docker build on the dockerd pool, where pull fetches the base anew", async () => {
    const context = await uploadContext(dispatcher.url, ctx(dockerfile));
    const done = await build(
      buildRequest(context, { platforms: ["windows/amd64:ltsc2022"], push: false, tags: [], noCache: true, pull: true, idempotencyKey: `options/nocache-docker/${nonce}` }),
      dispatcher.url,
      "dockhand/windows-ltsc2022",
    );
    expect(done.state.platforms[0]).toMatchObject({ state: "succeeded", builder: "docker" });
    const text = done.logs.join("\n");
    expect(text).not.toContain("Using cache");
    expect(done.logs.some((line) => line.trim() === `step ran ${nonce}`)).toBe(true);
    // docker build --pull asks the registry for the base even though the node's dockerd has it.
    expect(text).toMatch(/Pulling from dockhand-test\/busybox/);
    // (The pool removes each build's images after the push, intermediate ones
    // included, so the classic builder has no cache to skip between builds:
    // no-cache shows in the command the pod ran, not in the output.)
    const [job] = (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${done.id}` })).items;
    const buildStep = job!.spec!.template.spec!.initContainers!.find((c) => c.name === "build")!;
    expect(buildStep.command).toEqual(expect.arrayContaining(["--pull", "--no-cache"]));
  });

  it("without pull, the dockerd pool builds from the base it has", async () => {
    const context = await uploadContext(dispatcher.url, ctx(dockerfile));
    const done = await build(buildRequest(context, { platforms: ["windows/amd64:ltsc2022"], push: false, tags: [], idempotencyKey: `options/nopull-docker/${nonce}` }), dispatcher.url, "dockhand/windows-ltsc2022");
    expect(done.state.platforms[0].state).toBe("succeeded");
    expect(done.logs.join("\n")).not.toMatch(/Pulling from/);
  });
});

describe("registry cache", () => {
  let buildkitd: ChildProcess | undefined;
  let root: string | undefined;
  afterAll(() => {
    if (buildkitd?.pid) process.kill(buildkitd.pid, "SIGTERM");
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("written with cache-to by one BuildKit is read with cache-from by another that never ran the build", async () => {
    const dockerfile = `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo "expensive step ${nonce}" && date +%s%N > /stamp\nRUN echo second > /second\n`;
    const context = await uploadContext(dispatcher.url, ctx(dockerfile));
    const cacheRef = `${bed.env.REGISTRY}/bed/options-cache:${nonce}`;
    const written = await build(buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/bed/options-cache-image:${nonce}`], cacheTo: [`type=registry,ref=${cacheRef},mode=max`], idempotencyKey: `options/cache-to/${nonce}` }));
    expect(written.state.platforms[0].state, written.logs.join("\n")).toBe("succeeded");
    expect(written.logs.join("\n")).toMatch(/exporting cache/i);
    // The cache is in the registry under its own tag.
    expect((await readManifest(bed.env.REGISTRY, "bed/options-cache", nonce)).digest).toMatch(/^sha256:/);

    // A second buildkitd with empty state, and a dispatcher that builds on it.
    root = mkdtempSync(join(tmpdir(), "dh-buildkitd-"));
    const port = await freePort();
    buildkitd = spawn(join(bed.env.BED_BIN, "buildkitd"), ["--root", root, "--addr", `tcp://127.0.0.1:${port}`, "--config", "test/tools/buildkit/buildkitd.toml"], { stdio: "ignore" });
    await waitFor(async () => (await run(join(bed.env.BED_BIN, "buildctl"), ["--addr", `tcp://127.0.0.1:${port}`, "debug", "workers"])) === 0, 60_000);
    const freshPort = await freePort();
    const fresh = await startDispatcher(resolveConfig({ ...bed.rawConfig(freshPort), buildkit: { address: `tcp://127.0.0.1:${port}` } }, {}, "test"), { logger: pino({ level: "warn" }) });
    try {
      const freshContext = await uploadContext(fresh.url, ctx(dockerfile));
      const read = await build(buildRequest(freshContext, { platforms: ["linux/amd64"], push: false, tags: [], cacheFrom: [cacheRef], idempotencyKey: `options/cache-from/${nonce}` }), fresh.url);
      const text = read.logs.join("\n");
      expect(read.state.platforms[0].state, text).toBe("succeeded");
      expect(text).toContain(`importing cache manifest from ${cacheRef}`);
      // This buildkitd never ran the step: CACHED can only come from the registry.
      const step = read.logs.find((line) => line.includes(`RUN echo "expensive step ${nonce}"`))?.match(/^#(\d+) /)?.[1];
      expect(step).toBeDefined();
      expect(read.logs).toContain(`#${step} CACHED`);
    } finally {
      await fresh.close();
    }
  });
});

describe("attestations and annotations", () => {
  it("puts provenance and the annotations into the pushed index", async () => {
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo attested > /a\n`));
    const repo = "bed/options-attest";
    const done = await build(buildRequest(context, {
      platforms: ["linux/amd64"],
      tags: [`${bed.env.REGISTRY}/${repo}:${nonce}`],
      provenance: "max",
      annotations: [`manifest:org.opencontainers.image.description=built by dockhand, ${nonce}`, `index:org.opencontainers.image.version=${nonce}`],
      idempotencyKey: `options/attest/${nonce}`,
    }));
    expect(done.state.platforms[0].state, done.logs.join("\n")).toBe("succeeded");
    const index = await readManifest(bed.env.REGISTRY, repo, nonce);
    expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(index.body.annotations).toMatchObject({ "org.opencontainers.image.version": nonce });
    const image = index.body.manifests.find((m: any) => m.platform?.os === "linux");
    const attestation = index.body.manifests.find((m: any) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest");
    expect(attestation.annotations["vnd.docker.reference.digest"]).toBe(image.digest);
    // The digest dockhand reports is what the tag names.
    expect(done.state.platforms[0].digest).toBe(index.digest);
    const imageManifest = await readManifest(bed.env.REGISTRY, repo, image.digest);
    expect(imageManifest.body.annotations).toMatchObject({ "org.opencontainers.image.description": `built by dockhand, ${nonce}` });
    const statement = await readManifest(bed.env.REGISTRY, repo, attestation.digest);
    const layer = statement.body.layers.find((l: any) => /provenance/.test(l.annotations?.["in-toto.io/predicate-type"] ?? ""));
    expect(layer).toBeDefined();
    const predicate = await (await fetch(`http://${bed.env.REGISTRY}/v2/${repo}/blobs/${layer.digest}`)).json();
    expect(predicate.predicateType).toMatch(/slsa\.dev\/provenance/);
    // mode=max records the build's steps.
    expect(JSON.stringify(predicate)).toContain("echo attested > /a");
  });

  it("keeps each platform's provenance in the image index of a multi-platform build", async () => {
    // COPY-only Windows beside Linux: both on BuildKit, so both can attest.
    const dockerfile = [
      `ARG NANOSERVER_TAG=ltsc2022`,
      `FROM ${bed.env.WINDOWS_BASE_IMAGE}:\${NANOSERVER_TAG} AS base-windows`,
      `FROM ${bed.env.LINUX_BASE_IMAGE} AS base-linux`,
      `FROM base-\${TARGETOS}`,
      `COPY app.txt /app.txt`,
    ].join("\n");
    const context = await uploadContext(dispatcher.url, ctx(dockerfile, { "app.txt": nonce }));
    const repo = "bed/options-attest-multi";
    const res = await postBuild(dispatcher.url, buildRequest(context, { platforms: ["linux/amd64", "windows/amd64:ltsc2022"], tags: [`${bed.env.REGISTRY}/${repo}:${nonce}`], provenance: "min", idempotencyKey: `options/attest-multi/${nonce}` }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await waitForStatuses(bed.github, (all) => statusesFor(all.filter((s) => s.target_url?.endsWith(`/v1/builds/${res.body.id}`)), "dockhand/manifest").some((s) => finalStates.has(s.state)), 240_000);
    const state = await (await fetch(`${dispatcher.url}/v1/builds/${res.body.id}`)).json();
    expect(state.manifest, JSON.stringify(state)).toMatchObject({ state: "succeeded" });
    const index = await readManifest(bed.env.REGISTRY, repo, nonce);
    expect(index.digest).toBe(state.manifest.digest);
    const images = index.body.manifests.filter((m: any) => m.platform.os !== "unknown");
    const attestations = index.body.manifests.filter((m: any) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest");
    expect(images.map((m: any) => m.platform.os).sort()).toEqual(["linux", "windows"]);
    expect(attestations.map((m: any) => m.annotations["vnd.docker.reference.digest"]).sort()).toEqual(images.map((m: any) => m.digest).sort());
    for (const attestation of attestations) {
      const statement = await readManifest(bed.env.REGISTRY, repo, attestation.digest);
      expect(statement.body.layers.some((l: any) => /slsa\.dev\/provenance/.test(l.annotations?.["in-toto.io/predicate-type"] ?? ""))).toBe(true);
    }
  });

  it("puts an SBOM from the generator image into the pushed index", async () => {
    const scanner = `${bed.env.REGISTRY}/bed/options-sbom-scanner:${nonce}`;
    await pushStandInScanner(scanner);
    const context = await uploadContext(dispatcher.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo scanned > /s\n`));
    const repo = "bed/options-sbom";
    const done = await build(buildRequest(context, { platforms: ["linux/amd64"], tags: [`${bed.env.REGISTRY}/${repo}:${nonce}`], sbom: { generator: scanner }, idempotencyKey: `options/sbom/${nonce}` }));
    expect(done.state.platforms[0].state, done.logs.join("\n")).toBe("succeeded");
    const index = await readManifest(bed.env.REGISTRY, repo, nonce);
    const attestation = index.body.manifests.find((m: any) => m.annotations?.["vnd.docker.reference.type"] === "attestation-manifest");
    expect(attestation, JSON.stringify(index.body)).toBeDefined();
    const statement = await readManifest(bed.env.REGISTRY, repo, attestation.digest);
    const layer = statement.body.layers.find((l: any) => l.annotations?.["in-toto.io/predicate-type"] === "https://spdx.dev/Document");
    expect(layer, JSON.stringify(statement.body)).toBeDefined();
    const sbom = await (await fetch(`http://${bed.env.REGISTRY}/v2/${repo}/blobs/${layer.digest}`)).json();
    expect(sbom.predicate.name).toBe(`dockhand-stand-in-scan-${nonce}`);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`not true after ${timeoutMs} ms: ${check.toString().slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: "ignore" });
    child.on("exit", (code) => resolve(code ?? 1));
    child.on("error", () => resolve(1));
  });
}
