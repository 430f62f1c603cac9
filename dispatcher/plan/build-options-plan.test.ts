// Planning build-push-action's options: the flags each builder gets, the
// build's Secret in the BuildKit Job (its name, never a value), and the
// refusals where the dockerd pool's classic builder cannot do what is asked.

import { describe, expect, it } from "vitest";
import { RequestError } from "../protocol/errors.js";
import { planBuild } from "./build-plan.js";
import { buildctlCommand, linuxPoolEndpoint } from "./buildkit-job.js";
import { dockerBuildCommand } from "./docker-job.js";
import { jobManifests } from "./job-manifests.js";
import { annotationKeys } from "./names.js";
import { contextUrl, testConfig, testRequest } from "./test-fixtures.js";

const buildId = "abcdefghijkl";
const copyOnly = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY app.exe C:/app/\n";
const windowsRun = "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN setup.exe /quiet\n";
const linux = "FROM alpine:3.20\nRUN --mount=type=secret,id=token cat /run/secrets/token\n";
const config = testConfig();

function plan(request: Record<string, unknown>, dockerfile: string) {
  return planBuild({ request: testRequest(request), config, dockerfile, buildId, contextUrl });
}

describe("buildctl flags", () => {
  const options = {
    platforms: ["linux/amd64"],
    tags: ["127.0.0.1:15000/octo-org/app:1.0"],
    pull: true,
    noCache: true,
    secrets: { token: "s3cr3t-value", npmrc: "//r/:_authToken=s3cr3t-value" },
    cacheFrom: ["127.0.0.1:15000/octo-org/app:cache", "ghcr.io/octo-org/app:cache"],
    cacheTo: ["type=registry,ref=127.0.0.1:15000/octo-org/app:cache,mode=max"],
    annotations: ['manifest:org.opencontainers.image.description=An "app", built', "index:org.opencontainers.image.version=1.0"],
    provenance: "max",
    sbom: { generator: "127.0.0.1:15000/scanner:1" },
  };

  it("passes each option as buildctl takes it, the plain-HTTP registry marked insecure", () => {
    const built = plan(options, linux);
    const argv = buildctlCommand(built, built.platforms[0]!, config, linuxPoolEndpoint(config));
    expect(argv).toEqual(expect.arrayContaining([
      "--opt=image-resolve-mode=pull",
      "--no-cache",
      "--opt=attest:provenance=mode=max",
      "--opt=attest:sbom=generator=127.0.0.1:15000/scanner:1",
      '--output=type=image,"name=127.0.0.1:15000/octo-org/app:1.0",push=true,registry.insecure=true,"annotation-manifest.org.opencontainers.image.description=An ""app"", built","annotation-index.org.opencontainers.image.version=1.0"',
      "--export-cache=type=registry,ref=127.0.0.1:15000/octo-org/app:cache,mode=max,registry.insecure=true",
      "--import-cache=type=registry,ref=127.0.0.1:15000/octo-org/app:cache,registry.insecure=true",
      "--import-cache=type=registry,ref=ghcr.io/octo-org/app:cache",
      "--secret=id=token,src=./token",
      "--secret=id=npmrc,src=./npmrc",
    ]));
    expect(argv.join(" ")).not.toContain("s3cr3t-value");
  });

  it("adds none of them when none is asked for", () => {
    const built = plan({ platforms: ["linux/amd64"] }, linux);
    const argv = buildctlCommand(built, built.platforms[0]!, config, linuxPoolEndpoint(config)).join(" ");
    expect(argv).not.toMatch(/image-resolve-mode|--no-cache|attest:|annotation|--secret|--import-cache|--export-cache/);
  });

  it("gives each platform of a multi-platform build its own cache tag, as its pushed tags", () => {
    const built = plan({ platforms: ["linux/amd64", "windows/amd64:ltsc2022"], cacheFrom: ["ghcr.io/o/app:cache"], cacheTo: ["ghcr.io/o/app:cache"] }, copyOnly);
    expect(built.platforms.map((p) => [p.cacheFrom.map((e) => e.ref), p.cacheTo.map((e) => e.ref)])).toEqual([
      [["ghcr.io/o/app:cache-linux-amd64"], ["ghcr.io/o/app:cache-linux-amd64"]],
      [["ghcr.io/o/app:cache-win-ltsc2022"], ["ghcr.io/o/app:cache-win-ltsc2022"]],
    ]);
  });

  it("the local executor names its own directory of secret files", () => {
    const built = plan({ platforms: ["linux/amd64"], secrets: { token: "v" } }, linux);
    expect(buildctlCommand(built, built.platforms[0]!, config, linuxPoolEndpoint(config), "/tmp/dockhand-secrets-x")).toContain("--secret=id=token,src=/tmp/dockhand-secrets-x/token");
  });
});

describe("the BuildKit Job and the build's Secret", () => {
  it("mounts the Secret by name, read-only, as buildctl's working directory, and no value appears in the Job", () => {
    const built = plan({ platforms: ["linux/amd64"], secrets: { token: "s3cr3t-value" } }, linux);
    expect(built.buildSecret).toBe("dh-abcdefghijkl-secrets");
    expect(built.secretIds).toEqual(["token"]);
    expect(JSON.stringify(built)).not.toContain("s3cr3t-value");
    const [job] = jobManifests(built, config);
    const pod = job!.spec!.template.spec!;
    expect(pod.volumes).toContainEqual({ name: "build-secrets", secret: { secretName: "dh-abcdefghijkl-secrets", defaultMode: 0o400 } });
    expect(pod.containers[0]).toMatchObject({ workingDir: "/dockhand/build-secrets" });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: "build-secrets", mountPath: "/dockhand/build-secrets", readOnly: true });
    expect(job!.metadata!.annotations![annotationKeys.buildSecret]).toBe("dh-abcdefghijkl-secrets");
    expect(JSON.stringify(job)).not.toContain("s3cr3t-value");
  });

  it("has no Secret volume and keeps its working directory without secrets", () => {
    const [job] = jobManifests(plan({ platforms: ["linux/amd64"] }, linux), config);
    expect(job!.spec!.template.spec!.containers[0]!.workingDir).toBeUndefined();
    expect(JSON.stringify(job)).not.toContain("build-secrets");
  });
});

describe("docker build (dockerd pool)", () => {
  it("passes pull and no-cache", () => {
    const built = plan({ pull: true, noCache: true }, windowsRun);
    expect(built.platforms[0]!.builder).toBe("docker");
    expect(dockerBuildCommand(built, built.platforms[0]!).slice(0, 6)).toEqual(["docker", "build", "--force-rm", "--file=Dockerfile", "--pull", "--no-cache"]);
  });

  it.each([
    ["secrets", { secrets: { token: "s3cr3t-value" } }, "secrets", "whose classic builder has no build secrets (RUN --mount=type=secret)"],
    ["cache-from", { cacheFrom: ["ghcr.io/o/app:cache"] }, "cacheFrom", "can neither import nor export a registry cache"],
    ["cache-to", { cacheTo: ["ghcr.io/o/app:cache"] }, "cacheTo", "can neither import nor export a registry cache"],
    ["annotations", { annotations: ["k=v"] }, "annotations", "pushes no OCI annotations"],
    ["provenance", { provenance: "min" }, "provenance", "makes no attestations"],
    ["sbom", { sbom: {} }, "sbom", "makes no attestations"],
  ])("refuses %s on a platform the classic builder builds (422), saying what to do", (_name, request, field, what) => {
    let error: unknown;
    try {
      plan({ platforms: ["linux/amd64", "windows/amd64:ltsc2022"], ...request }, windowsRun);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RequestError);
    const refusal = error as RequestError;
    expect(refusal.status).toBe(422);
    expect(refusal.field).toBe(field);
    expect(refusal.error).toContain("platforms[1] windows/amd64:ltsc2022 builds on the dockerd pool (windows stage #0 has RUN (line 2): dockerd pool), whose classic builder");
    expect(refusal.error).toContain(what);
    expect(refusal.hint).toContain("builder: buildkit");
    expect(JSON.stringify(refusal.toBody())).not.toContain("s3cr3t-value");
  });

  it("plans the same options on BuildKit when the Windows stage only COPYs", () => {
    const built = plan({ secrets: { token: "v" }, cacheTo: ["ghcr.io/o/app:cache"], provenance: "min" }, copyOnly);
    expect(built.platforms[0]!.builder).toBe("buildkit");
  });
});
