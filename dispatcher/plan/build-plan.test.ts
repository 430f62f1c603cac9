import { describe, expect, it } from "vitest";
import { RequestError } from "../protocol/errors.js";
import { planBuild } from "./build-plan.js";
import { contextUrl, testConfig, testRequest } from "./test-fixtures.js";

const buildId = "abcdefghijkl";
const copyOnly = "ARG WINDOWS_VERSION=ltsc2022\nFROM mcr.microsoft.com/windows/nanoserver:${WINDOWS_VERSION}\nCOPY app.exe C:/app/\n";
const windowsRun = "ARG WINDOWS_VERSION=ltsc2022\nFROM mcr.microsoft.com/windows/servercore:${WINDOWS_VERSION}\nRUN setup.exe /quiet\n";
const withBaseImageArg = "ARG DOCKHAND_BASE_IMAGE=mcr.microsoft.com/windows/servercore:ltsc2022\nFROM ${DOCKHAND_BASE_IMAGE}\nRUN dir\n";

describe("planBuild", () => {
  it("plans a single Windows platform: the requested tags, BuildKit for COPY-only, cache per repository/file/platform", () => {
    const plan = planBuild({
      request: testRequest({ tags: ["127.0.0.1:15000/octo-org/app:1.0", "127.0.0.1:15000/octo-org/app"], buildArgs: { VERSION: "1.0" } }),
      config: testConfig({ buildkit: { cacheRepository: "127.0.0.1:15000/cache" } }),
      dockerfile: copyOnly,
      buildId,
      contextUrl,
    });
    expect(plan).toMatchObject({
      buildId, namespace: "dockhand", repository: "octo-org/app", file: "Dockerfile", push: true, multiPlatform: false,
      tags: ["127.0.0.1:15000/octo-org/app:1.0", "127.0.0.1:15000/octo-org/app:latest"],
      githubTokenSecret: undefined, targetUrl: "http://dockhand.dockhand.svc:8080/v1/builds/abcdefghijkl", contextUrl,
    });
    expect(plan.platforms).toEqual([
      {
        platform: expect.objectContaining({ slug: "win-ltsc2022" }),
        builder: "buildkit",
        reason: "no RUN in windows stages: BuildKit",
        jobName: "dh-abcdefghijkl-win-ltsc2022",
        pushRefs: ["127.0.0.1:15000/octo-org/app:1.0", "127.0.0.1:15000/octo-org/app:latest"],
        statusContext: "dockhand/windows-ltsc2022",
        buildArgs: { VERSION: "1.0", WINDOWS_VERSION: "ltsc2022", NANOSERVER_TAG: "ltsc2022", SERVERCORE_TAG: "ltsc2022" },
        // sha256("octo-org/app\nDockerfile\n")[:16]
        cacheRef: "127.0.0.1:15000/cache:dbcd48e98ca78992-win-ltsc2022",
        cacheFrom: [],
        cacheTo: [],
        // Read by the executor: a multi-version index is pinned to this version's entry.
        windowsBaseImages: ["mcr.microsoft.com/windows/nanoserver:ltsc2022"],
      },
    ]);
  });

  it("plans several platforms: per-platform tags, a builder per platform, the request's status prefix", () => {
    const plan = planBuild({
      request: testRequest({
        platforms: ["linux/amd64", "windows/amd64:ltsc2019", "windows/amd64:ltsc2022"],
        tags: ["ghcr.io/octo-org/app:1.0", "docker.io/octo/app:latest"],
        statusContext: "ci/images",
        githubToken: "ghs_x",
        idempotencyKey: "9/1/build/image",
      }),
      config: testConfig(),
      dockerfile: windowsRun,
      buildId,
      contextUrl,
      targetUrl: "https://github.com/octo-org/app/actions/runs/9",
    });
    expect(plan).toMatchObject({
      multiPlatform: true, githubTokenSecret: "dh-abcdefghijkl-github-token", idempotencyKey: "9/1/build/image",
      targetUrl: "https://github.com/octo-org/app/actions/runs/9",
    });
    expect(plan.platforms.map(({ platform, builder, reason, jobName, pushRefs, statusContext, buildArgs, cacheRef }) => ({
      slug: platform.slug, builder, reason, jobName, pushRefs, statusContext, buildArgs, cacheRef,
    }))).toEqual([
      {
        slug: "linux-amd64", builder: "buildkit", reason: "linux/amd64: BuildKit", jobName: "dh-abcdefghijkl-linux-amd64",
        pushRefs: ["ghcr.io/octo-org/app:1.0-linux-amd64", "docker.io/octo/app:latest-linux-amd64"],
        statusContext: "ci/images/linux-amd64", buildArgs: {}, cacheRef: undefined,
      },
      {
        slug: "win-ltsc2019", builder: "docker", reason: "windows stage #0 has RUN (line 3): dockerd pool", jobName: "dh-abcdefghijkl-win-ltsc2019",
        pushRefs: ["ghcr.io/octo-org/app:1.0-win-ltsc2019", "docker.io/octo/app:latest-win-ltsc2019"],
        statusContext: "ci/images/windows-ltsc2019", buildArgs: { WINDOWS_VERSION: "ltsc2019", NANOSERVER_TAG: "1809", SERVERCORE_TAG: "ltsc2019" }, cacheRef: undefined,
      },
      {
        slug: "win-ltsc2022", builder: "docker", reason: "windows stage #0 has RUN (line 3): dockerd pool", jobName: "dh-abcdefghijkl-win-ltsc2022",
        pushRefs: ["ghcr.io/octo-org/app:1.0-win-ltsc2022", "docker.io/octo/app:latest-win-ltsc2022"],
        statusContext: "ci/images/windows-ltsc2022", buildArgs: { WINDOWS_VERSION: "ltsc2022", NANOSERVER_TAG: "ltsc2022", SERVERCORE_TAG: "ltsc2022" }, cacheRef: undefined,
      },
    ]);
  });

  it("passes a base image override as DOCKHAND_BASE_IMAGE to its platform only", () => {
    const plan = planBuild({
      request: testRequest({
        platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022"],
        baseImages: { ltsc2019: "127.0.0.1:15000/servercore:ltsc2019-patched" },
      }),
      config: testConfig(),
      dockerfile: withBaseImageArg,
      buildId,
      contextUrl,
    });
    expect(plan.platforms.map((platform) => platform.buildArgs)).toEqual([
      { WINDOWS_VERSION: "ltsc2019", NANOSERVER_TAG: "1809", SERVERCORE_TAG: "ltsc2019", DOCKHAND_BASE_IMAGE: "127.0.0.1:15000/servercore:ltsc2019-patched" },
      { WINDOWS_VERSION: "ltsc2022", NANOSERVER_TAG: "ltsc2022", SERVERCORE_TAG: "ltsc2022" },
    ]);
  });

  it("plans push false without tags", () => {
    const plan = planBuild({ request: testRequest({ push: false, tags: [] }), config: testConfig(), dockerfile: windowsRun, buildId, contextUrl });
    expect(plan.push).toBe(false);
    expect(plan.platforms[0]?.pushRefs).toEqual([]);
  });

  it.each([
    {
      name: "a base image override the Dockerfile does not declare",
      request: { baseImages: { ltsc2022: "mcr.microsoft.com/windows/servercore:ltsc2022" } },
      dockerfile: windowsRun,
      body: {
        error: "baseImages.ltsc2022: the Dockerfile does not declare ARG DOCKHAND_BASE_IMAGE before its first FROM, so the override would be ignored",
        field: "baseImages.ltsc2022",
        hint: 'add "ARG DOCKHAND_BASE_IMAGE=<default image>" before the first FROM and use "FROM ${DOCKHAND_BASE_IMAGE}"',
      },
    },
    {
      name: "a platform its builder cannot build",
      request: { platforms: ["linux/amd64", "windows/amd64:ltsc2022"], builder: "buildkit" },
      dockerfile: windowsRun,
      body: {
        error: 'builder: "buildkit" cannot build windows/amd64:ltsc2022: windows stage #0 has RUN (line 3), which BuildKit cannot run',
        field: "builder",
        hint: 'use builder "docker" or "auto", or move the RUN into a --platform=$BUILDPLATFORM stage and COPY its output',
        line: 3,
      },
    },
  ])("rejects $name", ({ request, dockerfile, body }) => {
    let thrown: unknown;
    try {
      planBuild({ request: testRequest(request), config: testConfig(), dockerfile, buildId, contextUrl });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RequestError);
    expect((thrown as RequestError).toBody()).toEqual(body);
  });

  it.each([
    ["nanoserver:ltsc2019 on ltsc2019", "FROM mcr.microsoft.com/windows/nanoserver:ltsc2019\nCOPY a C:/a\n", "windows/amd64:ltsc2019",
      'file: line 1: mcr.microsoft.com/windows/nanoserver has no tag "ltsc2019" (published: 1809, ltsc2022, ltsc2025)',
      "use mcr.microsoft.com/windows/nanoserver:1809, or FROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG} (dockhand sets NANOSERVER_TAG per Windows version)", 1],
    ["WINDOWS_VERSION on nanoserver, after substitution", "ARG WINDOWS_VERSION\nFROM mcr.microsoft.com/windows/nanoserver:${WINDOWS_VERSION}\nCOPY a C:/a\n", "windows/amd64:ltsc2019",
      'file: line 2: mcr.microsoft.com/windows/nanoserver has no tag "ltsc2019" (published: 1809, ltsc2022, ltsc2025)',
      "use mcr.microsoft.com/windows/nanoserver:1809, or FROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG} (dockhand sets NANOSERVER_TAG per Windows version)", 2],
    ["server (full) has no 2019", "FROM mcr.microsoft.com/windows/server:ltsc2019\nCOPY a C:/a\n", "windows/amd64:ltsc2019",
      'file: line 1: mcr.microsoft.com/windows/server has no tag "ltsc2019" (published: ltsc2022, ltsc2025)',
      "mcr.microsoft.com/windows/server has no ltsc2019 image; use servercore for ltsc2019", 1],
  ])("refuses a base tag MCR does not publish: %s", (_name, dockerfile, platform, error, hint, line) => {
    expect(() => planBuild({ request: testRequest({ platforms: [platform] }), config: testConfig(), dockerfile, buildId, contextUrl })).toThrow(
      expect.objectContaining({ status: 422, field: "file", error, hint, line }),
    );
  });

  it.each([
    ["NANOSERVER_TAG", "ARG NANOSERVER_TAG\nFROM mcr.microsoft.com/windows/nanoserver:${NANOSERVER_TAG}\nCOPY a C:/a\n"],
    ["SERVERCORE_TAG", "ARG SERVERCORE_TAG\nFROM mcr.microsoft.com/windows/servercore:${SERVERCORE_TAG}\nCOPY a C:/a\n"],
    ["servercore's 1809 alias", "FROM mcr.microsoft.com/windows/servercore:1809\nCOPY a C:/a\n"],
    ["a dated tag, left to the registry", "FROM mcr.microsoft.com/windows/nanoserver:10.0.17763.6659\nCOPY a C:/a\n"],
  ])("plans every version with %s", (_name, dockerfile) => {
    const plan = planBuild({
      request: testRequest({ platforms: ["windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025"] }),
      config: testConfig(), dockerfile, buildId, contextUrl,
    });
    expect(plan.platforms).toHaveLength(3);
  });
});
