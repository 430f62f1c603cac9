// One request, three platforms, one tag: the per-platform images are read
// back from the real registry, checked against the Windows build they were
// asked for, and joined in an OCI image index pushed under each tag — read
// back by dockhand's own registry reader and by skopeo, a client nobody here
// wrote.
//
// What the bed can honour: BuildKit runs on linux-0 only, so COPY-only
// Windows Dockerfiles build there (as on a real cluster) and their images
// carry the real Windows configs of the basegen nanoserver bases
// (os.version 10.0.17763.6293 / 10.0.20348.2700): that is where the platform
// check is tested. Dockerfiles with RUN go to the emulated Windows nodes
// win-ltsc2019-0 and win-ltsc2022-0, whose dockerd is the bed's Linux one:
// their images are Linux images, so that variant runs with
// registry.validatePlatform off (test/README.md) and shows three nodes and
// three digests behind one index.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { ImageReader } from "../../dispatcher/registry/image-reader.js";
import { RegistryHttp } from "../../dispatcher/registry/registry-http.js";
import { readManifest } from "../bed/registry.js";
import type { RecordedStatus } from "../github-standin/github-standin.js";
import { type Bed, buildRequest, ctx, finalStates, postBuild, setUpBed, startBedDispatcher, uploadContext, waitForStatuses } from "./harness.js";

const threePlatforms = ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"];
const manifestContext = "dockhand/manifest";

function ofBuild(statuses: RecordedStatus[], id: string): RecordedStatus[] {
  return statuses.filter((s) => s.target_url?.endsWith(`/v1/builds/${id}`));
}

/** Waits for the build's index status to be final (it comes after every platform's), then returns the build's statuses. */
/**
 * The build's statuses once its index status is final, checked for the order
 * a pull request shows: every context starts pending, and the index's final
 * status is the build's last word.
 */
async function settled(bed: Bed, id: string): Promise<RecordedStatus[]> {
  const statuses = ofBuild(
    await waitForStatuses(bed.github, (s) => ofBuild(s, id).some((x) => x.context === manifestContext && finalStates.has(x.state)), 240_000),
    id,
  );
  for (const context of new Set(statuses.map((s) => s.context))) expect(statuses.find((s) => s.context === context)!.state, context).toBe("pending");
  expect(statuses.at(-1)!.context).toBe(manifestContext);
  return statuses;
}

async function getBuild(dispatcher: Dispatcher, id: string) {
  const res = await fetch(`${dispatcher.url}/v1/builds/${id}`);
  expect(res.status).toBe(200);
  return res.json();
}

function skopeoRaw(reference: string): { status: number | null; stdout: Buffer; stderr: string } {
  const run = spawnSync("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${reference}`]);
  return { status: run.status, stdout: run.stdout, stderr: String(run.stderr) };
}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

describe("BuildKit: a COPY-only Dockerfile for ltsc2019 + ltsc2022 + linux/amd64 (platform check on)", () => {
  let bed: Bed;
  let dispatcher: Dispatcher;
  let registry: string;
  let reader: ImageReader;

  beforeAll(async () => {
    bed = await setUpBed("dh-manifest");
    registry = bed.env.REGISTRY;
    dispatcher = await startBedDispatcher(bed, (config) => ({
      ...config,
      registry: { ...config.registry, validatePlatform: true },
      buildkit: { ...config.buildkit, cacheRepository: `${registry}/bed/manifest-cache` },
    }));
    reader = new ImageReader(new RegistryHttp({ credentials: async () => undefined, insecureRegistries: [registry] }));
  });

  afterAll(async () => {
    await dispatcher?.close();
    await bed?.close();
  });

  const context = (windowsFrom: string) =>
    ctx(
      [
        "ARG NANOSERVER_TAG=ltsc2022",
        `FROM ${windowsFrom} AS base-windows`,
        `FROM ${bed.env.LINUX_BASE_IMAGE} AS base-linux`,
        "FROM base-${TARGETOS}",
        "COPY app.txt /app/app.txt",
        "",
      ].join("\n"),
      { "app.txt": `built once, placed on every base ${Date.now()}\n` },
    );

  it("runs three Jobs with three digests and pushes one index under each tag whose entries carry each os.version", async () => {
    const uploaded = await uploadContext(dispatcher.url, context(`${bed.env.WINDOWS_BASE_IMAGE}:\${NANOSERVER_TAG}`));
    // Two repositories: the index lives in each, next to the per-platform images the plan pushed there.
    const tags = [`${registry}/bed/manifest-app:1`, `${registry}/bed/manifest-mirror:1`];
    const res = await postBuild(dispatcher.url, buildRequest(uploaded, { platforms: threePlatforms, tags, idempotencyKey: "manifest/ok" }));
    expect(res.status).toBe(202);
    expect(res.body.platforms.map((p: { builder: string }) => p.builder)).toEqual(["buildkit", "buildkit", "buildkit"]);
    const statuses = await settled(bed, res.body.id);

    const build = await getBuild(dispatcher, res.body.id);
    expect(build.state).toBe("succeeded");
    const byPlatform = Object.fromEntries(build.platforms.map((p: { platform: string }) => [p.platform, p]));
    expect(Object.keys(byPlatform).sort()).toEqual([...threePlatforms].sort());
    for (const platform of threePlatforms) expect(byPlatform[platform]).toMatchObject({ state: "succeeded", node: "linux-0", builder: "buildkit", imageCheck: "passed" });
    expect(byPlatform["windows/amd64:ltsc2019"].image).toEqual({ os: "windows", architecture: "amd64", "os.version": "10.0.17763.6293" });
    expect(byPlatform["windows/amd64:ltsc2022"].image).toEqual({ os: "windows", architecture: "amd64", "os.version": "10.0.20348.2700" });
    expect(byPlatform["linux/amd64"].image).toEqual({ os: "linux", architecture: "amd64" });
    const digests = threePlatforms.map((p) => byPlatform[p].digest as string);
    expect(new Set(digests).size).toBe(3);

    expect(build.manifest).toMatchObject({ state: "succeeded", tags, statusContext: manifestContext });
    const indexDigest = build.manifest.digest as string;
    expect(indexDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // Statuses: one per platform, plus the index's, pending first and its digest last.
    // (A platform's pending can be skipped when its Job is already done the first time the reconciler gets to it.)
    for (const context_ of ["dockhand/windows-ltsc2019", "dockhand/windows-ltsc2022", "dockhand/linux-amd64"]) {
      expect(statuses.filter((s) => s.context === context_).map((s) => s.state).filter((s) => s !== "pending")).toEqual(["success"]);
    }
    const manifestStatuses = statuses.filter((s) => s.context === manifestContext);
    expect(manifestStatuses[0]!.state).toBe("pending");
    expect(manifestStatuses.at(-1)).toMatchObject({ state: "success" });
    expect(manifestStatuses.at(-1)!.description).toContain(indexDigest.slice(0, 19));
    expect(manifestStatuses.filter((s) => finalStates.has(s.state))).toHaveLength(1);

    const expectedEntries = [
      { digest: digests[0], platform: { architecture: "amd64", os: "windows", "os.version": "10.0.17763.6293" } },
      { digest: digests[1], platform: { architecture: "amd64", os: "windows", "os.version": "10.0.20348.2700" } },
      { digest: digests[2], platform: { architecture: "amd64", os: "linux" } },
    ];
    for (const tag of tags) {
      const [, repository, name] = /^[^/]+\/(.+):([^:]+)$/.exec(tag)!;
      // dockhand's reader
      const ours = await reader.manifest(registry, repository!, name!);
      expect(ours.descriptor).toMatchObject({ digest: indexDigest, mediaType: "application/vnd.oci.image.index.v1+json" });
      expect(ours.body.manifests?.map((m) => ({ digest: m.digest, platform: m.platform })).sort(byDigestOrder(digests))).toEqual(expectedEntries);
      // skopeo: the same bytes, so the same digest and entries
      const skopeo = skopeoRaw(tag);
      expect(skopeo.status, skopeo.stderr).toBe(0);
      expect(sha256(skopeo.stdout)).toBe(indexDigest);
      const index = JSON.parse(skopeo.stdout.toString("utf8"));
      expect(index.mediaType).toBe("application/vnd.oci.image.index.v1+json");
      expect(index.manifests.map((m: { digest: string; platform: object }) => ({ digest: m.digest, platform: m.platform })).sort(byDigestOrder(digests))).toEqual(expectedEntries);
      // every entry resolves in this repository
      for (const digest of digests) expect((await readManifest(registry, repository!, digest)).digest).toBe(digest);
    }
    // skopeo picks the Windows entry for a Windows client, as a Windows node would
    const windowsConfig = JSON.parse(
      execFileSync("skopeo", ["inspect", "--config", "--tls-verify=false", "--override-os=windows", `docker://${tags[0]}`]).toString("utf8"),
    );
    expect(windowsConfig.os).toBe("windows");

    // BuildKit exported its registry cache, one tag per platform.
    const cacheTags = ((await (await fetch(`http://${registry}/v2/bed/manifest-cache/tags/list`)).json()) as { tags: string[] }).tags;
    for (const slug of ["win-ltsc2019", "win-ltsc2022", "linux-amd64"]) expect(cacheTags.some((t) => t.endsWith(`-${slug}`))).toBe(true);

    // With the index status out, every Job lets go of its report finalizer.
    await expect
      .poll(async () => (await bed.k.batch.listNamespacedJob({ namespace: bed.namespace, labelSelector: `dockhand.dev/build-id=${res.body.id}` })).items.map((j) => j.metadata?.finalizers ?? []), { timeout: 30_000 })
      .toEqual([[], [], []]);
  });

  it("fails the platform whose base image is of another Windows build, pushes no index, and keeps the others by digest", async () => {
    // The classic mistake: a hard-coded ltsc2019 base asked for as ltsc2022.
    const uploaded = await uploadContext(dispatcher.url, context(`${bed.env.WINDOWS_BASE_IMAGE}:1809`));
    const tag = `${registry}/bed/manifest-broken:1`;
    const res = await postBuild(dispatcher.url, buildRequest(uploaded, { platforms: threePlatforms, tags: [tag], idempotencyKey: "manifest/broken" }));
    expect(res.status).toBe(202);
    const statuses = await settled(bed, res.body.id);

    const build = await getBuild(dispatcher, res.body.id);
    const byPlatform = Object.fromEntries(build.platforms.map((p: { platform: string }) => [p.platform, p]));
    const message =
      "pushed image is os.version 10.0.17763.6293 but windows/amd64:ltsc2022 needs 10.0.20348.*: the base image must match — use ARG NANOSERVER_TAG";
    expect(byPlatform["windows/amd64:ltsc2022"]).toMatchObject({ state: "failed", imageCheck: "failed" });
    expect(byPlatform["windows/amd64:ltsc2022"].message).toContain(message);
    expect(byPlatform["windows/amd64:ltsc2019"]).toMatchObject({ state: "succeeded", imageCheck: "passed" });
    expect(byPlatform["linux/amd64"]).toMatchObject({ state: "succeeded", imageCheck: "passed" });
    expect(build.manifest).toMatchObject({ state: "failed", message: "no index pushed: windows/amd64:ltsc2022 failed" });
    expect(build.manifest.digest).toBeUndefined();

    const ltsc2022 = statuses.filter((s) => s.context === "dockhand/windows-ltsc2022");
    expect(ltsc2022.map((s) => s.state).filter((s) => s !== "pending")).toEqual(["failure"]);
    expect(ltsc2022.at(-1)!.description).toMatch(/^Pushed image is os\.version 10\.0\.17763\.6293 but windows\/amd64:ltsc2022 needs 10\.0\.20348\.\*/);
    const manifest = statuses.filter((s) => s.context === manifestContext);
    expect(manifest.map((s) => s.state)).toEqual(["pending", "error"]);
    expect(manifest[1]!.description).toBe("No index pushed: windows/amd64:ltsc2022 failed");

    // No index: the tag is absent, for us and for skopeo.
    expect((await fetch(`http://${registry}/v2/bed/manifest-broken/manifests/1`, { method: "HEAD" })).status).toBe(404);
    expect(skopeoRaw(tag).status).not.toBe(0);
    // The platforms that succeeded stay available by digest (and under their per-platform tags).
    for (const [platform, slug] of [["windows/amd64:ltsc2019", "win-ltsc2019"], ["linux/amd64", "linux-amd64"]] as const) {
      const digest = byPlatform[platform].digest as string;
      expect((await readManifest(registry, "bed/manifest-broken", digest)).digest).toBe(digest);
      expect((await readManifest(registry, "bed/manifest-broken", `1-${slug}`)).digest).toBe(digest);
    }
  });
});

describe("dockerd pool: a RUN Dockerfile on win-ltsc2019-0 and win-ltsc2022-0, linux/amd64 on BuildKit (platform check off)", () => {
  let bed: Bed;
  let dispatcher: Dispatcher;

  beforeAll(async () => {
    bed = await setUpBed("dh-manifest-pool");
    dispatcher = await startBedDispatcher(bed); // the harness's bed config: validatePlatform off
  });

  afterAll(async () => {
    await dispatcher?.close();
    await bed?.close();
  });

  it("builds on three nodes, three digests, and one index with each requested os.version", async () => {
    const registry = bed.env.REGISTRY;
    const uploaded = await uploadContext(
      dispatcher.url,
      ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nARG WINDOWS_VERSION=none\nRUN echo "built for \${WINDOWS_VERSION} ${Date.now()}" > /version.txt\n`),
    );
    const tag = `${registry}/bed/manifest-pool:1`;
    const res = await postBuild(dispatcher.url, buildRequest(uploaded, { platforms: threePlatforms, tags: [tag], idempotencyKey: "manifest/pool" }));
    expect(res.status).toBe(202);
    const statuses = await settled(bed, res.body.id);

    const build = await getBuild(dispatcher, res.body.id);
    const byPlatform = Object.fromEntries(build.platforms.map((p: { platform: string }) => [p.platform, p]));
    expect(byPlatform["windows/amd64:ltsc2019"]).toMatchObject({ state: "succeeded", builder: "docker", node: "win-ltsc2019-0" });
    expect(byPlatform["windows/amd64:ltsc2022"]).toMatchObject({ state: "succeeded", builder: "docker", node: "win-ltsc2022-0" });
    expect(byPlatform["linux/amd64"]).toMatchObject({ state: "succeeded", builder: "buildkit", node: "linux-0" });
    const digests = threePlatforms.map((p) => byPlatform[p].digest as string);
    expect(new Set(digests).size).toBe(3);
    expect(build.manifest).toMatchObject({ state: "succeeded" });
    expect(statuses.filter((s) => s.context === manifestContext).at(-1)).toMatchObject({ state: "success" });

    const skopeo = skopeoRaw(tag);
    expect(skopeo.status, skopeo.stderr).toBe(0);
    expect(sha256(skopeo.stdout)).toBe(build.manifest.digest);
    const index = JSON.parse(skopeo.stdout.toString("utf8"));
    // The images are Linux (the emulation's concession), so the entries say what was asked for.
    expect(index.manifests.map((m: { digest: string; platform: object }) => ({ digest: m.digest, platform: m.platform })).sort(byDigestOrder(digests))).toEqual([
      { digest: digests[0], platform: { architecture: "amd64", os: "windows", "os.version": "10.0.17763" } },
      { digest: digests[1], platform: { architecture: "amd64", os: "windows", "os.version": "10.0.20348" } },
      { digest: digests[2], platform: { architecture: "amd64", os: "linux" } },
    ]);
  });
});

/** Sorts index entries into the order of `digests`. */
function byDigestOrder(digests: string[]) {
  return (a: { digest?: string }, b: { digest?: string }) => digests.indexOf(a.digest ?? "") - digests.indexOf(b.digest ?? "");
}
