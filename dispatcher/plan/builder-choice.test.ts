import { describe, expect, it } from "vitest";
import type { BuilderPreference } from "../protocol/request-rules.js";
import { RequestError } from "../protocol/errors.js";
import { chooseBuilder } from "./builder-choice.js";
import { parseDockerfile, resolveStages } from "./dockerfile-analysis.js";
import { parsePlatform } from "../protocol/platforms.js";

const windowsRun = "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS final\nCOPY . C:/src\nRUN msbuild C:/src\n";
const windowsCopyOnly = "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY app.exe C:/app/\n";
const crossCompiled = [
  "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
  "RUN go build -o /out/app.exe .",
  "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022",
  "COPY --from=build /out/app.exe C:/app/",
].join("\n");
const linuxThenWindowsRun = [
  "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
  "RUN go build -o /out/app.exe .",
  "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS final",
  "COPY --from=build /out/app.exe C:/app/",
  "RUN C:/app/app.exe --selftest",
].join("\n");
const unneededLinuxStageFirst = [
  "FROM --platform=linux/amd64 alpine AS lint",
  "FROM mcr.microsoft.com/windows/servercore:ltsc2022",
  "RUN dir",
].join("\n");
const windowsRunWithMount = [
  "FROM mcr.microsoft.com/windows/servercore:ltsc2022",
  "RUN --mount=type=cache,target=C:/cache dir",
].join("\n");
const heredocWithWindowsRun = "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN <<EOF\ndir\nEOF\n";
const linuxOnly = "FROM alpine\nRUN apk add curl\n";

function choose(dockerfile: string, preference: BuilderPreference, platformString = "windows/amd64:ltsc2022", target?: string) {
  const platform = parsePlatform(platformString);
  const buildArgs: Record<string, string> = platform.os === "windows" ? { WINDOWS_VERSION: platform.windowsVersion } : {};
  return chooseBuilder(preference, platform, resolveStages(parseDockerfile(dockerfile), { platform, buildArgs, target }));
}

describe("chooseBuilder picks", () => {
  it.each([
    { name: "dockerd for a Windows RUN", dockerfile: windowsRun, preference: "auto", target: undefined, expected: { builder: "docker", reason: 'windows stage "final" has RUN (line 3): dockerd pool' } },
    { name: "BuildKit for a COPY-only Windows image", dockerfile: windowsCopyOnly, preference: "auto", target: undefined, expected: { builder: "buildkit", reason: "no RUN in windows stages: BuildKit" } },
    { name: "BuildKit when the RUN is in a $BUILDPLATFORM stage", dockerfile: crossCompiled, preference: "auto", target: undefined, expected: { builder: "buildkit", reason: "no RUN in windows stages: BuildKit" } },
    { name: "BuildKit when asked and there is no Windows RUN", dockerfile: crossCompiled, preference: "buildkit", target: undefined, expected: { builder: "buildkit", reason: "no RUN in windows stages: BuildKit" } },
    { name: "dockerd when asked for a COPY-only image", dockerfile: windowsCopyOnly, preference: "docker", target: undefined, expected: { builder: "docker", reason: "builder docker requested: dockerd pool" } },
    { name: "dockerd when asked and there is a Windows RUN", dockerfile: windowsRun, preference: "docker", target: undefined, expected: { builder: "docker", reason: 'windows stage "final" has RUN (line 3): dockerd pool' } },
    {
      name: "BuildKit when the target skips the stage with the Windows RUN",
      dockerfile: "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS slim\nCOPY a C:/a\nFROM slim AS full\nRUN dir\n",
      preference: "auto", target: "slim",
      expected: { builder: "buildkit", reason: "no RUN in windows stages: BuildKit" },
    },
    { name: "BuildKit for linux/amd64", dockerfile: linuxOnly, preference: "auto", platform: "linux/amd64", target: undefined, expected: { builder: "buildkit", reason: "linux/amd64: BuildKit" } },
  ] as const)("$name", ({ dockerfile, preference, target, expected, ...rest }) => {
    const platform = "platform" in rest ? rest.platform : "windows/amd64:ltsc2022";
    expect(choose(dockerfile, preference, platform, target)).toEqual(expected);
  });
});

describe("chooseBuilder rejects", () => {
  it.each([
    {
      name: "builder docker for linux/amd64",
      dockerfile: linuxOnly, preference: "docker", platform: "linux/amd64",
      body: { error: 'builder: "docker" cannot build linux/amd64: the dockerd pool runs Windows', field: "builder", hint: 'use builder "auto" or "buildkit" for linux/amd64' },
    },
    {
      name: "builder buildkit with a Windows RUN",
      dockerfile: windowsRun, preference: "buildkit", platform: "windows/amd64:ltsc2022",
      body: {
        error: 'builder: "buildkit" cannot build windows/amd64:ltsc2022: windows stage "final" has RUN (line 3), which BuildKit cannot run',
        field: "builder",
        hint: 'use builder "docker" or "auto", or move the RUN into a --platform=$BUILDPLATFORM stage and COPY its output',
        line: 3,
      },
    },
    {
      name: "builder docker with a $BUILDPLATFORM stage",
      dockerfile: crossCompiled, preference: "docker", platform: "windows/amd64:ltsc2022",
      body: {
        error: 'builder: "docker" cannot build windows/amd64:ltsc2022: stage "build" (line 1) runs on linux/amd64, and dockerd on Windows cannot run Linux stages',
        field: "builder",
        hint: 'use builder "auto" or "buildkit", or build the Linux stage as its own image and COPY --from=<that image>',
        line: 1,
      },
    },
    {
      name: "builder docker with BuildKit-only syntax",
      dockerfile: windowsRunWithMount, preference: "docker", platform: "windows/amd64:ltsc2022",
      body: {
        error: 'builder: "docker" cannot build windows/amd64:ltsc2022: RUN --mount (line 2) needs BuildKit, which dockerd on Windows does not have',
        field: "builder",
        hint: 'remove --mount from the stages up to the target, or use builder "auto"',
        line: 2,
      },
    },
    {
      name: "auto with a Windows RUN that needs a Linux stage",
      dockerfile: linuxThenWindowsRun, preference: "auto", platform: "windows/amd64:ltsc2022",
      body: {
        error: 'file: windows stage "final" has RUN (line 5), which needs the dockerd pool, but stage "build" (line 1) runs on linux/amd64, and dockerd on Windows cannot run Linux stages',
        field: "file",
        hint: "build the Linux stage as its own image and COPY --from=<that image>, or replace the Windows RUN with files you COPY in",
        line: 1,
      },
    },
    {
      name: "auto with a Windows RUN after an unneeded Linux stage (the classic builder builds it anyway)",
      dockerfile: unneededLinuxStageFirst, preference: "auto", platform: "windows/amd64:ltsc2022",
      body: {
        error: 'file: windows stage #1 has RUN (line 3), which needs the dockerd pool, but stage "lint" (line 1) runs on linux/amd64, and dockerd on Windows cannot run Linux stages',
        field: "file",
        hint: "build the Linux stage as its own image and COPY --from=<that image>, or replace the Windows RUN with files you COPY in",
        line: 1,
      },
    },
    {
      name: "auto with a Windows RUN --mount",
      dockerfile: windowsRunWithMount, preference: "auto", platform: "windows/amd64:ltsc2022",
      body: {
        error: "file: windows stage #0 has RUN (line 2), which needs the dockerd pool, but RUN --mount (line 2) needs BuildKit, which dockerd on Windows does not have",
        field: "file",
        hint: "remove --mount: the classic builder on Windows does not support it",
        line: 2,
      },
    },
    {
      name: "auto with a Windows heredoc RUN",
      dockerfile: heredocWithWindowsRun, preference: "auto", platform: "windows/amd64:ltsc2019",
      body: {
        error: "file: windows stage #0 has RUN (line 2), which needs the dockerd pool, but RUN <<heredoc (line 2) needs BuildKit, which dockerd on Windows does not have",
        field: "file",
        hint: "remove the heredoc: the classic builder on Windows does not support it",
        line: 2,
      },
    },
  ] as const)("$name", ({ dockerfile, preference, platform, body }) => {
    let thrown: unknown;
    try {
      choose(dockerfile, preference, platform);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RequestError);
    expect((thrown as RequestError).status).toBe(422);
    expect((thrown as RequestError).toBody()).toEqual(body);
  });
});

describe("chooseBuilder with BuildKit on the Windows pool", () => {
  const withWindowsBuildKit = (dockerfile: string, preference: BuilderPreference, buildkit = true, platformString = "windows/amd64:ltsc2022") => {
    const platform = parsePlatform(platformString);
    const buildArgs: Record<string, string> = platform.os === "windows" ? { WINDOWS_VERSION: platform.windowsVersion } : {};
    return chooseBuilder(preference, platform, resolveStages(parseDockerfile(dockerfile), { platform, buildArgs, target: undefined }), { buildkit });
  };
  const refusal = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(RequestError);
      expect((error as RequestError).status).toBe(422);
      return (error as RequestError).toBody();
    }
    throw new Error("expected a refusal");
  };

  it("auto: a Windows RUN goes to BuildKit there, and the status says so", () => {
    expect(withWindowsBuildKit(windowsRun, "auto")).toEqual({ builder: "buildkit-windows", reason: 'windows stage "final" has RUN (line 3): BuildKit on the Windows pool' });
  });

  it("auto: what the classic builder cannot do (RUN --mount, heredocs), BuildKit there can", () => {
    expect(withWindowsBuildKit(windowsRunWithMount, "auto").builder).toBe("buildkit-windows");
    expect(withWindowsBuildKit(heredocWithWindowsRun, "auto").builder).toBe("buildkit-windows");
  });

  it("auto: only the stages the target needs count; an unneeded Linux stage is no obstacle, as BuildKit skips it", () => {
    expect(withWindowsBuildKit(unneededLinuxStageFirst, "auto").builder).toBe("buildkit-windows");
  });

  it("auto: COPY-only stays on Linux BuildKit, and Windows RUN without the pool stays on dockerd", () => {
    expect(withWindowsBuildKit(windowsCopyOnly, "auto").builder).toBe("buildkit");
    expect(withWindowsBuildKit(windowsRun, "auto", false).builder).toBe("docker");
  });

  it("docker asked for explicitly still goes to dockerd where BuildKit runs too", () => {
    expect(withWindowsBuildKit(windowsRun, "docker").builder).toBe("docker");
  });

  it("buildkit-windows asked for: also for a COPY-only Dockerfile", () => {
    expect(withWindowsBuildKit(windowsCopyOnly, "buildkit-windows")).toEqual({
      builder: "buildkit-windows",
      reason: "builder buildkit-windows requested: BuildKit on the Windows pool",
    });
  });

  it("refuses buildkit-windows where the version has no BuildKit, naming the config key", () => {
    expect(refusal(() => withWindowsBuildKit(windowsRun, "buildkit-windows", false, "windows/amd64:ltsc2019"))).toEqual({
      error: 'builder: "buildkit-windows" cannot build windows/amd64:ltsc2019: this cluster runs no BuildKit on its ltsc2019 nodes',
      field: "builder",
      hint: 'use builder "auto" or "docker", or ask the operator to list ltsc2019 in buildkitWindows.versions (a pool with process isolation)',
    });
  });

  it("refuses buildkit-windows for Linux", () => {
    expect(refusal(() => withWindowsBuildKit(linuxOnly, "buildkit-windows", true, "linux/amd64"))).toMatchObject({
      error: 'builder: "buildkit-windows" cannot build linux/amd64: BuildKit on the Windows pool runs Windows',
      field: "builder",
    });
  });

  it("refuses a needed Linux stage with RUN, on the Linux stage's line", () => {
    expect(refusal(() => withWindowsBuildKit(linuxThenWindowsRun, "auto"))).toEqual({
      error: 'file: windows stage "final" has RUN (line 5), which needs the Windows pool, but stage "build" runs on linux/amd64 and has RUN (line 2), which a Windows node cannot run',
      field: "file",
      hint: "build the Linux stage as its own image and COPY --from=<that image>, or replace the Windows RUN with files you COPY in",
      line: 2,
    });
    expect(refusal(() => withWindowsBuildKit(linuxThenWindowsRun, "buildkit-windows"))).toMatchObject({ field: "builder", line: 2 });
  });
});
