import { describe, expect, it } from "vitest";
import { planBuild } from "../plan/build-plan.js";
import { contextUrl, testConfig, testRequest } from "../plan/test-fixtures.js";
import { digestFromBuildctlMetadata, digestFromPushOutput, localPlatformSteps, stepEnvironment } from "./local-steps.js";

const buildId = "abcdefghijkl";
const windowsRun = ["ARG WINDOWS_VERSION=ltsc2022", "FROM mcr.microsoft.com/windows/servercore:${WINDOWS_VERSION} AS final", "RUN setup.exe /quiet"].join("\n");
const linux = "FROM busybox\nRUN echo hi\n";
const tags = ["127.0.0.1:15000/octo-org/app:1.0", "127.0.0.1:15000/octo-org/app:latest"];
const metadataFile = "/state/builds/abcdefghijkl/linux-amd64/buildctl-metadata.json";

function stepsFor(request: Record<string, unknown>, dockerfile: string, buildkitAddress: string | undefined) {
  const config = testConfig({ buildkit: { address: "tcp://buildkitd.dockhand.svc:1234", tlsSecret: "buildkit-client" } });
  const plan = planBuild({ request: testRequest(request), config, dockerfile, buildId, contextUrl });
  return localPlatformSteps(plan, plan.platforms[0]!, config, { buildkitAddress, metadataFile });
}

describe("localPlatformSteps", () => {
  const rows = [
    {
      name: "a Windows RUN: the Job's docker build, then one push per tag",
      request: { platforms: ["windows/amd64:ltsc2022"], tags },
      dockerfile: windowsRun,
      buildkitAddress: "tcp://127.0.0.1:1234",
      expected: {
        builder: "docker",
        reason: 'windows stage "final" has RUN (line 3): dockerd pool',
        engine: "docker",
        metadataFile: undefined,
        steps: [
          {
            name: "build",
            stage: 0,
            argv: ["docker", "build", "--force-rm", "--file=Dockerfile", `--tag=${tags[0]}`, `--tag=${tags[1]}`, "--build-arg=WINDOWS_VERSION=ltsc2022", "--build-arg=NANOSERVER_TAG=ltsc2022", "--build-arg=SERVERCORE_TAG=ltsc2022", contextUrl],
          },
          { name: "push-0", stage: 1, argv: ["docker", "push", tags[0]] },
          { name: "push-1", stage: 1, argv: ["docker", "push", tags[1]] },
        ],
      },
    },
    {
      name: "push false: the build alone",
      request: { platforms: ["windows/amd64:ltsc2019"], tags: [], push: false },
      dockerfile: windowsRun,
      buildkitAddress: undefined,
      expected: {
        builder: "docker",
        reason: 'windows stage "final" has RUN (line 3): dockerd pool',
        engine: "docker",
        metadataFile: undefined,
        steps: [{ name: "build", stage: 0, argv: ["docker", "build", "--force-rm", "--file=Dockerfile", "--build-arg=WINDOWS_VERSION=ltsc2019", "--build-arg=NANOSERVER_TAG=1809", "--build-arg=SERVERCORE_TAG=ltsc2019", contextUrl] }],
      },
    },
    {
      name: "BuildKit with a local address: the Job's buildctl, local address, no TLS, metadata to a file",
      request: { platforms: ["linux/amd64"], tags: [tags[0]] },
      dockerfile: linux,
      buildkitAddress: "tcp://127.0.0.1:1234",
      expected: {
        builder: "buildkit",
        reason: "linux/amd64: BuildKit",
        engine: "buildctl",
        metadataFile,
        steps: [
          {
            name: "build",
            stage: 0,
            argv: [
              "buildctl",
              "--addr=tcp://127.0.0.1:1234",
              "build",
              "--progress=plain",
              "--frontend=dockerfile.v0",
              `--opt=context=${contextUrl}`,
              "--opt=filename=Dockerfile",
              "--opt=platform=linux/amd64",
              `--output=type=image,"name=${tags[0]}",push=true,registry.insecure=true`,
              `--metadata-file=${metadataFile}`,
            ],
          },
        ],
      },
    },
    {
      name: "BuildKit without a local address: the Docker daemon builds it, and says so",
      request: { platforms: ["linux/amd64"], tags: [tags[0]] },
      dockerfile: linux,
      buildkitAddress: undefined,
      expected: {
        builder: "docker",
        reason: "Docker daemon: no BuildKit address for the local executor (planned: linux/amd64: BuildKit)",
        engine: "docker",
        metadataFile: undefined,
        steps: [
          { name: "build", stage: 0, argv: ["docker", "build", "--force-rm", "--file=Dockerfile", `--tag=${tags[0]}`, contextUrl] },
          { name: "push-0", stage: 1, argv: ["docker", "push", tags[0]] },
        ],
      },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(stepsFor(row.request, row.dockerfile, row.buildkitAddress)).toEqual(row.expected);
    });
  }

});

describe("stepEnvironment", () => {
  const parent = {
    PATH: "/usr/bin",
    HOME: "/root",
    DOCKER_CONFIG: "/etc/dockhand/docker",
    DOCKHAND_SIGNING_KEY: "secret",
    DOCKHAND_GITHUB_TOKEN: "ghp_secret",
    DOCKER_HOST: "unix:///elsewhere.sock",
  };
  const rows = [
    {
      engine: "docker" as const,
      expected: { PATH: "/usr/bin", HOME: "/root", DOCKER_CONFIG: "/etc/dockhand/docker", DOCKER_HOST: "unix:///d.sock", DOCKER_BUILDKIT: "0" },
    },
    { engine: "buildctl" as const, expected: { PATH: "/usr/bin", HOME: "/root", DOCKER_CONFIG: "/etc/dockhand/docker" } },
  ];
  for (const row of rows) {
    it(`${row.engine}: the daemon chosen, credentials kept, the dispatcher's secrets left out`, () => {
      expect(stepEnvironment(row.engine, "unix:///d.sock", parent)).toEqual(row.expected);
    });
  }
});

describe("digests", () => {
  const digest = `sha256:${"ab".repeat(32)}`;
  const rows: { name: string; read: () => string | undefined; expected: string | undefined }[] = [
    {
      name: "docker push output",
      read: () => digestFromPushOutput(`The push refers to repository [127.0.0.1:15000/a]\n5d21527871d5: Pushed\n1.0: digest: ${digest} size: 527\n`),
      expected: digest,
    },
    { name: "docker push output without a digest", read: () => digestFromPushOutput("5d21527871d5: Pushed\n"), expected: undefined },
    { name: "buildctl metadata", read: () => digestFromBuildctlMetadata(JSON.stringify({ "containerimage.digest": digest })), expected: digest },
    { name: "buildctl metadata with a malformed digest", read: () => digestFromBuildctlMetadata('{"containerimage.digest":"sha256:xyz"}'), expected: undefined },
    { name: "not JSON", read: () => digestFromBuildctlMetadata("error: failed"), expected: undefined },
  ];
  for (const row of rows) it(row.name, () => expect(row.read()).toBe(row.expected));
});

describe("build-push-action's options on the local executor", () => {
  const linux = "FROM alpine:3.20\nRUN --mount=type=secret,id=token cat /run/secrets/token\n";
  const planFor = (request: Record<string, unknown>) => planBuild({ request: testRequest({ platforms: ["linux/amd64"], ...request }), config: testConfig(), dockerfile: linux, buildId: "abcdefghijkl", contextUrl });

  it("gives buildctl the secret files in its own directory, by path", () => {
    const plan = planFor({ secrets: { token: "s3cr3t-value" } });
    const steps = localPlatformSteps(plan, plan.platforms[0]!, testConfig(), { buildkitAddress: "tcp://127.0.0.1:11234", metadataFile: "/state/m.json", secretsDir: "/tmp/dockhand-secrets-x" });
    expect(steps.steps[0]!.argv).toContain("--secret=id=token,src=/tmp/dockhand-secrets-x/token");
    expect(JSON.stringify(steps)).not.toContain("s3cr3t-value");
  });

  it.each([
    ["secrets", { secrets: { token: "v" } }],
    ["cacheTo", { cacheTo: ["r.example/app:cache"] }],
    ["annotations", { annotations: ["k=v"] }],
    ["provenance", { provenance: "max" }],
  ])("refuses %s (422) without a BuildKit address, rather than build without it on the classic builder", (field, request) => {
    const plan = planFor(request);
    expect(() => localPlatformSteps(plan, plan.platforms[0]!, testConfig(), { buildkitAddress: undefined, metadataFile: "/m" })).toThrow(
      expect.objectContaining({ status: 422, field, hint: expect.stringContaining("local.buildkitAddress") }),
    );
  });

  it("refuses (422) a platform planned for BuildKit on the Windows pool: this host has no Windows nodes", () => {
    const config = testConfig({ buildkitWindows: { versions: ["ltsc2022"] } });
    const plan = planBuild({ request: testRequest({ platforms: ["windows/amd64:ltsc2022"], tags }), config, dockerfile: windowsRun, buildId, contextUrl });
    expect(plan.platforms[0]!.builder).toBe("buildkit-windows");
    expect(() => localPlatformSteps(plan, plan.platforms[0]!, config, { buildkitAddress: "tcp://127.0.0.1:1234", metadataFile: "/m" })).toThrow(
      expect.objectContaining({ status: 422, field: "builder", hint: expect.stringContaining('use builder "docker" here') }),
    );
  });

  it("still builds with pull and no-cache on the classic builder", () => {
    const plan = planFor({ pull: true, noCache: true });
    const steps = localPlatformSteps(plan, plan.platforms[0]!, testConfig(), { buildkitAddress: undefined, metadataFile: "/m" });
    expect(steps.steps[0]!.argv).toEqual(expect.arrayContaining(["--pull", "--no-cache"]));
  });
});
