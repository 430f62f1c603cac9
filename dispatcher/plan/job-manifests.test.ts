import type { V1Container, V1Job } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { planBuild } from "./build-plan.js";
import { jobManifests } from "./job-manifests.js";
import { isDnsLabel, isLabelValue } from "./names.js";
import { contextUrl, sha, testConfig, testDockerPool, testRequest } from "./test-fixtures.js";

const buildId = "abcdefghijkl";
const windowsRun = [
  "# escape=`",
  "ARG WINDOWS_VERSION=ltsc2022",
  "FROM mcr.microsoft.com/windows/servercore:${WINDOWS_VERSION} AS final",
  "RUN setup.exe /quiet",
].join("\n");
const crossCompiled = [
  "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
  "RUN go build -o /out/app.exe .",
  "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS final",
  "COPY --from=build /out/app.exe C:/app/",
].join("\n");

function jobsFor(request: Record<string, unknown>, dockerfile: string, config = testConfig()): V1Job[] {
  return jobManifests(planBuild({ request: testRequest(request), config, dockerfile, buildId, contextUrl }), config);
}

const tags = ["127.0.0.1:15000/octo-org/app:1.0", "127.0.0.1:15000/octo-org/app:latest"];
const commonRequest = {
  tags,
  target: "final",
  buildArgs: { VERSION: "1.0" },
  labels: { "org.opencontainers.image.source": "https://github.com/octo-org/app" },
  idempotencyKey: "9/1/build/image",
};

function expectedLabels(slug: string, builder: string) {
  return {
    "app.kubernetes.io/managed-by": "dockhand",
    "dockhand.dev/build-id": buildId,
    "dockhand.dev/platform": slug,
    "dockhand.dev/builder": builder,
    // sha256("octo-org/app")[:16]
    "dockhand.dev/repository-hash": "edfc67b5ab6594e2",
    "dockhand.dev/sha": sha,
  };
}

describe("docker Job (Windows dockerd pool)", () => {
  const [job] = jobsFor({ ...commonRequest, platforms: ["windows/amd64:ltsc2022"] }, windowsRun);
  const pod = job?.spec?.template.spec;

  it("is named, labelled and annotated for the reconciler", () => {
    expect(job?.metadata?.name).toBe("dh-abcdefghijkl-win-ltsc2022");
    expect(job?.metadata?.namespace).toBe("dockhand");
    expect(job?.metadata?.labels).toEqual(expectedLabels("win-ltsc2022", "docker"));
    expect(job?.metadata?.annotations).toEqual({
      "dockhand.dev/repository": "octo-org/app",
      "dockhand.dev/sha": sha,
      "dockhand.dev/ref": "refs/heads/main",
      "dockhand.dev/platform": "windows/amd64:ltsc2022",
      "dockhand.dev/status-context": "dockhand/windows-ltsc2022",
      "dockhand.dev/target-url": "http://dockhand.dockhand.svc:8080/v1/builds/abcdefghijkl",
      "dockhand.dev/builder-reason": 'windows stage "final" has RUN (line 4): dockerd pool',
      "dockhand.dev/tags": JSON.stringify(tags),
      "dockhand.dev/push-ref": "127.0.0.1:15000/octo-org/app:1.0",
      "dockhand.dev/request-hash": expect.stringMatching(/^[0-9a-f]{64}$/),
      "dockhand.dev/idempotency-key": "9/1/build/image",
      "dockhand.dev/validate-platform": "true",
    });
    expect(job?.spec?.template.metadata).toEqual({ labels: job?.metadata?.labels, annotations: job?.metadata?.annotations });
  });

  it("runs once, without API access, on a node of its version's own pool, queued until admitted", () => {
    expect(job?.spec?.backoffLimit).toBe(0);
    expect(job?.spec?.suspend).toBe(true);
    expect(job?.spec?.activeDeadlineSeconds).toBe(3600);
    expect(job?.spec?.ttlSecondsAfterFinished).toBe(86400);
    expect(pod?.restartPolicy).toBe("Never");
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.os).toEqual({ name: "windows" });
    expect(pod?.nodeSelector).toEqual({
      agentpool: "win22",
      "kubernetes.io/os": "windows",
      "node.kubernetes.io/windows-build": "10.0.20348",
    });
    expect(pod?.tolerations).toEqual([{ key: "os", operator: "Equal", value: "windows", effect: "NoSchedule" }]);
  });

  it("takes the selector and tolerations of the platform's own pool", () => {
    const [win25] = jobsFor({ ...commonRequest, platforms: ["windows/amd64:ltsc2025"] }, windowsRun);
    const spec = win25?.spec?.template.spec;
    expect(spec?.nodeSelector).toEqual({ agentpool: "win25", "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.26100" });
    expect(spec?.tolerations).toEqual([{ key: "node.kubernetes.io/os", operator: "Equal", value: "windows", effect: "NoSchedule" }]);
    expect(spec?.containers[0]?.image).toBe("docker:29-windowsservercore-ltsc2025");
  });

  it("refuses a Windows RUN platform whose version has no pool, creating nothing", () => {
    const config = testConfig({ dockerPool: { pools: { ltsc2022: { nodeSelector: { agentpool: "win22" } } } } });
    expect(() => jobsFor({ ...commonRequest, platforms: ["windows/amd64:ltsc2022", "windows/amd64:ltsc2025"] }, windowsRun, config)).toThrow(
      expect.objectContaining({
        status: 422,
        field: "platforms[1]",
        error: 'platforms[1]: windows/amd64:ltsc2025 needs the dockerd pool (windows stage "final" has RUN (line 4): dockerd pool), and this cluster has no ltsc2025 pool',
        hint: "build ltsc2022 instead, keep ltsc2025's Windows stages COPY-only so BuildKit builds them, or ask the operator to add dockerPool.pools.ltsc2025",
      }),
    );
  });

  it("mounts the docker named pipe and the registry credentials", () => {
    expect(pod?.volumes).toEqual([
      { name: "docker-engine", hostPath: { path: "\\\\.\\pipe\\docker_engine" } },
      { name: "docker-config", secret: { secretName: "registry-push", items: [{ key: ".dockerconfigjson", path: "config.json" }] } },
    ]);
    for (const container of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      expect(container.volumeMounts).toEqual([
        { name: "docker-engine", mountPath: "\\\\.\\pipe\\docker_engine" },
        { name: "docker-config", mountPath: "C:\\dockhand\\docker-config", readOnly: true },
      ]);
      expect(container.env).toEqual([
        { name: "DOCKER_HOST", value: "npipe:////./pipe/docker_engine" },
        { name: "DOCKER_BUILDKIT", value: "0" },
        { name: "DOCKER_CONFIG", value: "C:\\dockhand\\docker-config" },
      ]);
      expect(container.image).toBe("127.0.0.1:15000/docker:29-windowsservercore-ltsc2022");
      expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
      // The build step reserves what the build uses inside dockerd (dockerPool.buildRequests); the other steps are a CLI's worth.
      expect(container.resources).toEqual(
        container.name === "build"
          ? { requests: { cpu: "1", memory: "2Gi" }, limits: { memory: "2Gi" } }
          : { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "1Gi" } },
      );
      expect(container.securityContext).toEqual({ windowsOptions: { runAsUserName: "ContainerAdministrator" } });
    }
  });

  it("checks CLI and daemon versions, builds, pushes each tag in turn, then removes the image from the node", () => {
    expect(pod?.initContainers?.map((container) => [container.name, container.command])).toEqual([
      ["preflight", ["docker", "version", "--format={{json .}}"]],
      [
        "build",
        [
          "docker", "build", "--force-rm",
          "--file=Dockerfile",
          "--tag=dockhand.invalid/build/abcdefghijkl:win-ltsc2022",
          "--tag=127.0.0.1:15000/octo-org/app:1.0",
          "--tag=127.0.0.1:15000/octo-org/app:latest",
          "--target=final",
          "--build-arg=VERSION=1.0",
          "--build-arg=WINDOWS_VERSION=ltsc2022",
          "--build-arg=NANOSERVER_TAG=ltsc2022",
          "--build-arg=SERVERCORE_TAG=ltsc2022",
          "--label=org.opencontainers.image.source=https://github.com/octo-org/app",
          contextUrl,
        ],
      ],
      ["push-0", ["docker", "push", "127.0.0.1:15000/octo-org/app:1.0"]],
      ["push-1", ["docker", "push", "127.0.0.1:15000/octo-org/app:latest"]],
    ]);
    expect(pod?.containers.map((container) => [container.name, container.command])).toEqual([
      // The pushed names only: the internal tag keeps the image (and its
      // parents, --no-prune) for dockhand-node-gc, which removes it later.
      ["untag", ["docker", "image", "rm", "--no-prune", "127.0.0.1:15000/octo-org/app:1.0", "127.0.0.1:15000/octo-org/app:latest"]],
    ]);
  });

  it("only builds (and lists the image, which dockhand-node-gc removes later) when push is false", () => {
    const [buildOnly] = jobsFor({ platforms: ["windows/amd64:ltsc2019"], push: false, tags: [] }, windowsRun);
    const spec = buildOnly?.spec?.template.spec;
    expect([...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((container) => [container.name, container.command])).toEqual([
      ["preflight", ["docker", "version", "--format={{json .}}"]],
      [
        "build",
        [
          "docker", "build", "--force-rm", "--file=Dockerfile",
          "--tag=dockhand.invalid/build/abcdefghijkl:win-ltsc2019",
          "--build-arg=WINDOWS_VERSION=ltsc2019",
          "--build-arg=NANOSERVER_TAG=1809",
          "--build-arg=SERVERCORE_TAG=ltsc2019",
          contextUrl,
        ],
      ],
      ["untag", ["docker", "image", "ls", "--filter=reference=dockhand.invalid/build/abcdefghijkl:win-ltsc2019"]],
    ]);
    expect(spec?.nodeSelector?.["node.kubernetes.io/windows-build"]).toBe("10.0.17763");
    expect(buildOnly?.metadata?.annotations?.["dockhand.dev/push-ref"]).toBeUndefined();
  });
});

describe("BuildKit Job", () => {
  it("builds a Windows image without Windows RUN with one buildctl command", () => {
    const config = testConfig({
      buildkit: {
        address: "tcp://127.0.0.1:11234",
        image: "127.0.0.1:15000/buildctl:test",
        nodeSelector: { pool: "buildkit" },
        tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }],
        tlsSecret: "buildkit-tls",
        cacheRepository: "127.0.0.1:15000/cache",
      },
    });
    const [job] = jobsFor({ ...commonRequest, platforms: ["windows/amd64:ltsc2022"] }, crossCompiled, config);
    const pod = job?.spec?.template.spec;
    expect(job?.metadata?.name).toBe("dh-abcdefghijkl-win-ltsc2022");
    expect(job?.metadata?.labels).toEqual(expectedLabels("win-ltsc2022", "buildkit"));
    expect(job?.metadata?.annotations?.["dockhand.dev/builder-reason"]).toBe("no RUN in windows stages: BuildKit");
    expect(pod?.os).toEqual({ name: "linux" });
    expect(pod?.nodeSelector).toEqual({ pool: "buildkit", "kubernetes.io/os": "linux" });
    expect(pod?.tolerations).toEqual([{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }]);
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.securityContext).toEqual({ seccompProfile: { type: "RuntimeDefault" } });
    expect(pod?.initContainers).toBeUndefined();
    expect(pod?.volumes).toEqual([
      { name: "docker-config", secret: { secretName: "registry-push", items: [{ key: ".dockerconfigjson", path: "config.json" }] } },
      { name: "buildkit-tls", secret: { secretName: "buildkit-tls" } },
    ]);
    const [build] = pod?.containers ?? [];
    expect(build?.name).toBe("build");
    expect(build?.image).toBe("127.0.0.1:15000/buildctl:test");
    expect(build?.env).toEqual([{ name: "DOCKER_CONFIG", value: "/dockhand/docker-config" }]);
    expect(build?.volumeMounts).toEqual([
      { name: "docker-config", mountPath: "/dockhand/docker-config", readOnly: true },
      { name: "buildkit-tls", mountPath: "/dockhand/buildkit-tls", readOnly: true },
    ]);
    expect(build?.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    // sha256("octo-org/app\nDockerfile\nfinal")[:16]
    const cacheRef = "127.0.0.1:15000/cache:07274699bfaa251c-win-ltsc2022";
    expect(build?.command).toEqual([
      "buildctl",
      "--addr=tcp://127.0.0.1:11234",
      "--tlscacert=/dockhand/buildkit-tls/ca.crt",
      "--tlscert=/dockhand/buildkit-tls/tls.crt",
      "--tlskey=/dockhand/buildkit-tls/tls.key",
      "build",
      "--progress=plain",
      "--frontend=dockerfile.v0",
      `--opt=context=${contextUrl}`,
      "--opt=filename=Dockerfile",
      "--opt=platform=windows/amd64",
      "--opt=target=final",
      "--opt=build-arg:VERSION=1.0",
      "--opt=build-arg:WINDOWS_VERSION=ltsc2022",
      "--opt=build-arg:NANOSERVER_TAG=ltsc2022",
      "--opt=build-arg:SERVERCORE_TAG=ltsc2022",
      "--opt=label:org.opencontainers.image.source=https://github.com/octo-org/app",
      '--output=type=image,"name=127.0.0.1:15000/octo-org/app:1.0,127.0.0.1:15000/octo-org/app:latest",push=true,registry.insecure=true',
      `--export-cache=type=registry,ref=${cacheRef},mode=max,registry.insecure=true`,
      `--import-cache=type=registry,ref=${cacheRef},registry.insecure=true`,
      "--metadata-file=/dev/termination-log",
    ]);
  });

  it("builds linux/amd64 beside Windows, each pushing its per-platform tag", () => {
    const jobs = jobsFor(
      { platforms: ["linux/amd64", "windows/amd64:ltsc2022"], tags: ["ghcr.io/octo-org/app:1.0"] },
      "FROM --platform=$BUILDPLATFORM alpine AS build\nRUN echo > /x\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY --from=build /x C:/x\n",
    );
    expect(jobs.map((job) => [job.metadata?.name, job.metadata?.labels?.["dockhand.dev/builder"], job.metadata?.annotations?.["dockhand.dev/push-ref"]])).toEqual([
      ["dh-abcdefghijkl-linux-amd64", "buildkit", "ghcr.io/octo-org/app:1.0-linux-amd64"],
      ["dh-abcdefghijkl-win-ltsc2022", "buildkit", "ghcr.io/octo-org/app:1.0-win-ltsc2022"],
    ]);
    const linuxCommand = jobs[0]?.spec?.template.spec?.containers[0]?.command ?? [];
    expect(linuxCommand.filter((arg) => arg.startsWith("--opt=platform") || arg.startsWith("--output"))).toEqual([
      "--opt=platform=linux/amd64",
      '--output=type=image,"name=ghcr.io/octo-org/app:1.0-linux-amd64",push=true',
    ]);
  });

  it("records on every Job what the index needs: all platforms, the tags, its status context", () => {
    const jobs = jobsFor(
      { platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"], tags: ["ghcr.io/octo-org/app:1.0", "ghcr.io/octo-org/app:latest"] },
      "ARG NANOSERVER_TAG\nFROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG}\nCOPY app.exe C:/app/\n",
    );
    for (const job of jobs) {
      expect(job.metadata?.annotations).toMatchObject({
        "dockhand.dev/build-platforms": JSON.stringify(["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "linux/amd64"]),
        "dockhand.dev/index-tags": JSON.stringify(["ghcr.io/octo-org/app:1.0", "ghcr.io/octo-org/app:latest"]),
        "dockhand.dev/manifest-status-context": "dockhand/manifest",
        "dockhand.dev/validate-platform": "true",
      });
    }
  });

  it.each([
    ["one platform: no index", { platforms: ["linux/amd64"], tags: ["ghcr.io/o/a:1"] }, testConfig(), { index: false, validate: true }],
    ["push false: no index, nothing to read back", { platforms: ["linux/amd64", "windows/amd64:ltsc2022"], tags: ["ghcr.io/o/a:1"], push: false }, testConfig(), { index: false, validate: false }],
    ["registry.validatePlatform off: index, no check", { platforms: ["linux/amd64", "windows/amd64:ltsc2022"], tags: ["ghcr.io/o/a:1"] }, testConfig({ registry: { validatePlatform: false } }), { index: true, validate: false }],
  ])("%s", (_name, request, config, expected) => {
    for (const job of jobsFor(request, "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY a C:/a\n", config)) {
      expect(job.metadata?.annotations?.["dockhand.dev/index-tags"] !== undefined).toBe(expected.index);
      expect(job.metadata?.annotations?.["dockhand.dev/validate-platform"] === "true").toBe(expected.validate);
    }
  });

  it("builds without an image output when push is false and there are no tags", () => {
    const [job] = jobsFor({ platforms: ["linux/amd64"], push: false, tags: [] }, "FROM alpine\n");
    const command = job?.spec?.template.spec?.containers[0]?.command ?? [];
    expect(command.some((arg) => arg.startsWith("--output"))).toBe(false);
    expect(command.at(-1)).toBe("--metadata-file=/dev/termination-log");
  });
});

describe("buildkit-windows Job (BuildKit on the Windows pool)", () => {
  const config = testConfig({ buildkitWindows: { versions: ["ltsc2022"], images: { ltsc2022: "127.0.0.1:15000/buildctl-windows:v0.34.2-ltsc2022" } } });
  const [job] = jobsFor(
    { ...commonRequest, platforms: ["windows/amd64:ltsc2022"], secrets: { token: "s3cr3t" }, cacheFrom: ["type=registry,ref=127.0.0.1:15000/cache/app"] },
    windowsRun,
    config,
  );
  const [, ltsc2019] = jobsFor({ ...commonRequest, platforms: ["windows/amd64:ltsc2022", "windows/amd64:ltsc2019"] }, windowsRun, config);
  const pod = job?.spec?.template.spec;
  const build = pod?.containers[0];

  it("is labelled buildkit-windows and says why in its annotation; a version without the pool goes to dockerd", () => {
    expect(job?.metadata?.labels).toEqual(expectedLabels("win-ltsc2022", "buildkit-windows"));
    expect(job?.metadata?.annotations?.["dockhand.dev/builder-reason"]).toBe('windows stage "final" has RUN (line 4): BuildKit on the Windows pool');
    expect(ltsc2019?.metadata?.labels?.["dockhand.dev/builder"]).toBe("docker");
  });

  it("runs on its own version's pool, with its tolerations, queued until admitted to a node whose buildkitd is Ready", () => {
    expect(job?.spec?.suspend).toBe(true);
    expect(pod?.os).toEqual({ name: "windows" });
    expect(pod?.nodeSelector).toEqual({ agentpool: "win22", "kubernetes.io/os": "windows", "node.kubernetes.io/windows-build": "10.0.20348" });
    expect(pod?.tolerations).toEqual(testDockerPool.pools.ltsc2022.tolerations);
    expect(pod?.automountServiceAccountToken).toBe(false);
  });

  it("mounts buildkitd's named pipe, the registry credentials and the build's secrets, and runs buildctl as ContainerAdministrator", () => {
    expect(pod?.volumes).toEqual([
      { name: "buildkitd", hostPath: { path: "\\\\.\\pipe\\buildkitd" } },
      { name: "docker-config", secret: { secretName: "registry-push", items: [{ key: ".dockerconfigjson", path: "config.json" }] } },
      { name: "build-secrets", secret: { secretName: `dh-${buildId}-secrets` } },
    ]);
    expect(build?.volumeMounts).toEqual([
      { name: "buildkitd", mountPath: "\\\\.\\pipe\\buildkitd" },
      { name: "docker-config", mountPath: "C:\\dockhand\\docker-config", readOnly: true },
      { name: "build-secrets", mountPath: "C:\\dockhand\\build-secrets", readOnly: true },
    ]);
    expect(build?.env).toEqual([{ name: "DOCKER_CONFIG", value: "C:\\dockhand\\docker-config" }]);
    expect(build?.workingDir).toBe("C:\\dockhand\\build-secrets");
    expect(build?.image).toBe("127.0.0.1:15000/buildctl-windows:v0.34.2-ltsc2022");
    expect(build?.securityContext).toEqual({ windowsOptions: { runAsUserName: "ContainerAdministrator" } });
    expect(pod?.initContainers).toBeUndefined();
  });

  it("runs one buildctl against the pipe, no TLS, with the Windows platform, the secrets and the requested cache", () => {
    const command = build?.command ?? [];
    expect(command.slice(0, 3)).toEqual(["buildctl", "--addr=npipe:////./pipe/buildkitd", "build"]);
    expect(command.some((arg) => arg.startsWith("--tls"))).toBe(false);
    expect(command).toContain("--opt=platform=windows/amd64");
    expect(command).toContain("--secret=id=token,src=./token");
    expect(command).toContain("--import-cache=type=registry,ref=127.0.0.1:15000/cache/app,registry.insecure=true");
    expect(command.at(-1)).toBe("--metadata-file=/dev/termination-log");
  });
});

describe("every Job", () => {
  const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
  const shells = new Set(["sh", "/bin/sh", "bash", "/bin/bash", "cmd", "cmd.exe", "powershell", "powershell.exe", "pwsh", "-c", "/c", "/s", "-command"]);

  it.each([
    { name: "long and odd repository names", request: { repository: `${"a".repeat(39)}/${"Z._-".repeat(25)}` } },
    { name: "a dotted repository", request: { repository: "o/.github", platforms: ["linux/amd64", "windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"] } },
    { name: "build args that look like flags or shell", request: { buildArgs: { A: "--privileged", B: "$(rm -rf /); echo `x`" }, labels: { l: "-x" } } },
  ])("is valid for $name and runs no shell", ({ request }) => {
    const config = testConfig({ dockerPool: { ...testDockerPool, images: { ltsc2025: "mirror.example/docker:29.8.2-windowsservercore-ltsc2025" } } });
    const jobs = jobsFor(request, windowsRun, config);
    for (const job of jobs) {
      expect(isDnsLabel(job.metadata?.name ?? "")).toBe(true);
      expect(job.spec?.backoffLimit).toBe(0);
      const pod = job.spec?.template.spec;
      expect(pod?.automountServiceAccountToken).toBe(false);
      for (const [key, value] of Object.entries({ ...job.metadata?.labels, ...job.spec?.template.metadata?.labels })) {
        expect(key).toMatch(labelKey);
        expect(value.length).toBeLessThanOrEqual(63);
        expect(isLabelValue(value)).toBe(true);
      }
      const containers: V1Container[] = [...(pod?.initContainers ?? []), ...pod?.containers ?? []];
      for (const container of containers) {
        expect(isDnsLabel(container.name)).toBe(true);
        expect(container.args).toBeUndefined();
        expect(["docker", "buildctl"]).toContain(container.command?.[0]);
        expect(container.command?.filter((arg) => shells.has(arg.toLowerCase()))).toEqual([]);
        // Every value rides inside a --flag=value argument, so none can become a flag of its own.
        expect(container.command?.slice(2).filter((arg) => arg.startsWith("-") && !arg.startsWith("--"))).toEqual([]);
      }
    }
  });
});
