import { describe, expect, it } from "vitest";
import { RequestError } from "../protocol/errors.js";
import { parseDockerfile, resolveStages, substitute } from "./dockerfile-analysis.js";
import { parsePlatform } from "../protocol/platforms.js";

const win2022 = parsePlatform("windows/amd64:ltsc2022");
const win2019 = parsePlatform("windows/amd64:ltsc2019");
const linux = parsePlatform("linux/amd64");

function analyze(text: string, options: { platform?: typeof win2022; buildArgs?: Record<string, string>; target?: string } = {}) {
  const platform = options.platform ?? win2022;
  const buildArgs = options.buildArgs ?? (platform.os === "windows" ? { WINDOWS_VERSION: platform.windowsVersion } : {});
  const resolution = resolveStages(parseDockerfile(text), { platform, buildArgs, target: options.target });
  return {
    target: resolution.targetIndex,
    needed: resolution.needed,
    classic: resolution.builtByClassicBuilder,
    stages: resolution.stages.map((stage) => ({
      name: stage.name,
      line: stage.line,
      image: stage.resolvedImage,
      base: stage.baseStage,
      platform: stage.platform,
      runs: stage.runs.map((run) => (run.endLine === run.line ? run.line : `${run.line}-${run.endLine}`)),
      dependsOn: stage.dependsOn,
      buildKitOnly: stage.buildKitOnly.map((feature) => `${feature.feature}@${feature.line}`),
    })),
  };
}

describe("Dockerfile analysis", () => {
  it.each([
    {
      name: "plain Windows RUN",
      text: "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN powershell -Command Write-Host hi\nCMD [\"cmd\"]\n",
      options: {},
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 1, image: "mcr.microsoft.com/windows/servercore:ltsc2022", base: undefined, platform: "windows/amd64", runs: [2], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "COPY-only Windows",
      text: "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY app.exe C:/app/\nENTRYPOINT [\"C:/app/app.exe\"]\n",
      options: {},
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 1, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "Linux build stage on $BUILDPLATFORM, Windows stage only COPYs from it",
      text: [
        "FROM --platform=$BUILDPLATFORM golang:1.22 AS build",
        "ARG TARGETOS",
        "RUN GOOS=$TARGETOS go build -o /out/app.exe .",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "COPY --from=build /out/app.exe C:/app/",
      ].join("\n"),
      options: {},
      expected: {
        target: 1, needed: [0, 1], classic: [0, 1],
        stages: [
          { name: "build", line: 1, image: "golang:1.22", base: undefined, platform: "linux/amd64", runs: [3], dependsOn: [], buildKitOnly: [] },
          { name: undefined, line: 4, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [0], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "ARG WINDOWS_VERSION in FROM, filled per platform",
      text: "ARG WINDOWS_VERSION=ltsc2022\nFROM mcr.microsoft.com/windows/nanoserver:${WINDOWS_VERSION}\nCOPY a C:/a\n",
      options: { platform: win2019 },
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 2, image: "mcr.microsoft.com/windows/nanoserver:ltsc2019", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "a global ARG default built from another ARG, overridden by a build arg",
      text: "ARG WINDOWS_VERSION\nARG REGISTRY=mcr.microsoft.com\nARG BASE=$REGISTRY/windows/servercore:${WINDOWS_VERSION:-ltsc2022}\nFROM ${BASE}\n",
      options: { buildArgs: { REGISTRY: "127.0.0.1:15000" } },
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 4, image: "127.0.0.1:15000/windows/servercore:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "target selection skips stages the target does not need",
      text: [
        "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS tools",
        "RUN choco install thing",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS runtime",
        "COPY app C:/app",
        "FROM runtime AS debug",
        "RUN echo debug",
      ].join("\n"),
      options: { target: "Runtime" },
      expected: {
        target: 1, needed: [1], classic: [0, 1],
        stages: [
          { name: "tools", line: 1, image: "mcr.microsoft.com/windows/servercore:ltsc2022", base: undefined, platform: "windows/amd64", runs: [2], dependsOn: [], buildKitOnly: [] },
          { name: "runtime", line: 3, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [], buildKitOnly: [] },
          { name: "debug", line: 5, image: undefined, base: 1, platform: "windows/amd64", runs: [6], dependsOn: [1], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "FROM <stage> inherits the $BUILDPLATFORM of its base, whatever its own --platform says",
      text: [
        "FROM --platform=$BUILDPLATFORM alpine AS base",
        "FROM base AS compile",
        "RUN make",
        "FROM --platform=windows/amd64 compile AS odd",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "COPY --from=odd /out C:/out",
      ].join("\n"),
      options: {},
      expected: {
        target: 3, needed: [0, 1, 2, 3], classic: [0, 1, 2, 3],
        stages: [
          { name: "base", line: 1, image: "alpine", base: undefined, platform: "linux/amd64", runs: [], dependsOn: [], buildKitOnly: [] },
          { name: "compile", line: 2, image: undefined, base: 0, platform: "linux/amd64", runs: [3], dependsOn: [0], buildKitOnly: [] },
          { name: "odd", line: 4, image: undefined, base: 1, platform: "linux/amd64", runs: [], dependsOn: [1], buildKitOnly: [] },
          { name: undefined, line: 5, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [2], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "COPY --from=<numeric index>, and --from naming an image rather than a stage",
      text: [
        "FROM --platform=linux/amd64 busybox",
        "RUN echo > /x",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "COPY --from=0 /x C:/x",
        "COPY --from=mcr.microsoft.com/powershell:nanoserver /pwsh C:/pwsh",
        "COPY --from=5 /y C:/y",
      ].join("\n"),
      options: {},
      expected: {
        target: 1, needed: [0, 1], classic: [0, 1],
        stages: [
          { name: undefined, line: 1, image: "busybox", base: undefined, platform: "linux/amd64", runs: [2], dependsOn: [], buildKitOnly: [] },
          { name: undefined, line: 3, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [0], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "RUN --mount=from=<stage> is a dependency and BuildKit-only",
      text: [
        "FROM --platform=$BUILDPLATFORM alpine AS deps",
        "FROM --platform=$BUILDPLATFORM golang AS build",
        "RUN --mount=type=bind,from=deps,source=/etc,target=/deps --mount=type=cache,target=/root/.cache go build",
        "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022",
        "COPY --from=build /out C:/out",
      ].join("\n"),
      options: {},
      expected: {
        target: 2, needed: [0, 1, 2], classic: [0, 1, 2],
        stages: [
          { name: "deps", line: 1, image: "alpine", base: undefined, platform: "linux/amd64", runs: [], dependsOn: [], buildKitOnly: [] },
          { name: "build", line: 2, image: "golang", base: undefined, platform: "linux/amd64", runs: [3], dependsOn: [0], buildKitOnly: ["RUN --mount@3", "RUN --mount@3"] },
          { name: undefined, line: 4, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [], dependsOn: [1], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "heredoc RUN (whose body mentions FROM) spans its lines",
      text: "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN <<EOF\nFROM not-a-stage\necho hi\nEOF\nCOPY <<X C:/a.txt\nhello\nX\n",
      options: {},
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 1, image: "mcr.microsoft.com/windows/servercore:ltsc2022", base: undefined, platform: "windows/amd64", runs: ["2-5"], dependsOn: [], buildKitOnly: ["RUN <<heredoc@2", "COPY <<heredoc@6"] }],
      },
    },
    {
      name: "lower-case instructions",
      text: "from --platform=$BUILDPLATFORM alpine as Build\nrun echo > /x\nfrom mcr.microsoft.com/windows/nanoserver:ltsc2022\ncopy --from=BUILD /x C:/x\nrun dir\n",
      options: {},
      expected: {
        target: 1, needed: [0, 1], classic: [0, 1],
        stages: [
          { name: "build", line: 1, image: "alpine", base: undefined, platform: "linux/amd64", runs: [2], dependsOn: [], buildKitOnly: [] },
          { name: undefined, line: 3, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [5], dependsOn: [0], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "escaped line continuations keep RUN line numbers right",
      text: "FROM mcr.microsoft.com/windows/servercore:ltsc2022\nRUN echo one \\\n    && echo two \\\n    && echo three\nCOPY a \\\n  C:/a\nRUN echo four\n",
      options: {},
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 1, image: "mcr.microsoft.com/windows/servercore:ltsc2022", base: undefined, platform: "windows/amd64", runs: ["2-4", 7], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "the escape=` parser directive (Windows paths end in backslashes)",
      text: [
        "# escape=`",
        "ARG WINDOWS_VERSION",
        "FROM mcr.microsoft.com/windows/servercore:$WINDOWS_VERSION AS final",
        "COPY src\\ C:\\app\\",
        "RUN powershell -Command `",
        "    New-Item -ItemType Directory C:\\data; `",
        "    Write-Host done",
        "LABEL cost=`$5",
      ].join("\n"),
      options: { platform: win2019 },
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: "final", line: 3, image: "mcr.microsoft.com/windows/servercore:ltsc2019", base: undefined, platform: "windows/amd64", runs: ["5-7"], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "a Linux target: every stage without --platform is linux/amd64",
      text: "FROM alpine AS a\nRUN true\nFROM --platform=$TARGETPLATFORM alpine\nCOPY --from=a / /\n",
      options: { platform: linux },
      expected: {
        target: 1, needed: [0, 1], classic: [0, 1],
        stages: [
          { name: "a", line: 1, image: "alpine", base: undefined, platform: "linux/amd64", runs: [2], dependsOn: [], buildKitOnly: [] },
          { name: undefined, line: 3, image: "alpine", base: undefined, platform: "linux/amd64", runs: [], dependsOn: [0], buildKitOnly: [] },
        ],
      },
    },
    {
      name: "an unresolvable --platform falls back to the target",
      text: "FROM --platform=$NOPE mcr.microsoft.com/windows/servercore:ltsc2022\nRUN dir\n",
      options: {},
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 1, image: "mcr.microsoft.com/windows/servercore:ltsc2022", base: undefined, platform: "windows/amd64", runs: [2], dependsOn: [], buildKitOnly: [] }],
      },
    },
    {
      name: "COPY/ADD flags the classic builder lacks",
      text: "FROM mcr.microsoft.com/windows/nanoserver:ltsc2022\nCOPY --link a C:/a\nCOPY --chown=ContainerUser b C:/b\nADD --checksum=sha256:abc https://x/y C:/y\nRUN --network=none dir\n",
      options: {},
      expected: {
        target: 0, needed: [0], classic: [0],
        stages: [{ name: undefined, line: 1, image: "mcr.microsoft.com/windows/nanoserver:ltsc2022", base: undefined, platform: "windows/amd64", runs: [5], dependsOn: [], buildKitOnly: ["COPY --link@2", "ADD --checksum@4", "RUN --network@5"] }],
      },
    },
  ])("$name", ({ text, options, expected }) => {
    expect(analyze(text, options)).toEqual(expected);
  });

  it.each([
    {
      name: "a Dockerfile without FROM",
      text: "# just a comment\nRUN echo\n",
      target: undefined,
      body: { error: "file: the Dockerfile has no FROM", field: "file", hint: "check the file path; a Dockerfile starts with FROM <image>" },
    },
    {
      name: "a target that is not a stage",
      text: "FROM a AS build\nFROM b AS final\n",
      target: "release",
      body: { error: 'target: the Dockerfile has no stage named "release"', field: "target", hint: "use one of build, final, or leave target out to build the last stage" },
    },
    {
      name: "a target in a Dockerfile without stage names",
      text: "FROM a\n",
      target: "release",
      body: { error: 'target: the Dockerfile has no stage named "release"', field: "target", hint: "name a stage with FROM <image> AS <name>, or leave target out" },
    },
  ])("rejects $name", ({ text, target, body }) => {
    let thrown: unknown;
    try {
      analyze(text, { target });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RequestError);
    expect((thrown as RequestError).status).toBe(422);
    expect((thrown as RequestError).toBody()).toEqual(body);
  });
});

describe("substitute", () => {
  const values = { A: "a", EMPTY: "" };
  it.each([
    { text: "$A/${A}", expected: "a/a" },
    { text: "${MISSING}x$MISSING", expected: "x" },
    { text: "${A:-d} ${EMPTY:-d} ${MISSING:-d}", expected: "a d d" },
    { text: "${A-d} ${EMPTY-d} ${MISSING-d}", expected: "a  d" },
    { text: "${A:+s} ${EMPTY:+s} ${MISSING:+s}", expected: "s  " },
    { text: "${A+s} ${EMPTY+s} ${MISSING+s}", expected: "s s " },
    { text: "${MISSING:-$A}", expected: "a" },
    { text: "\\$A", expected: "$A" },
    { text: "price $", expected: "price $" },
  ])("$text → $expected", ({ text, expected }) => {
    expect(substitute(text, values)).toBe(expected);
  });

  it("uses the Dockerfile's escape character", () => {
    expect(substitute("`$A \\$A", values, "`")).toBe("$A \\a");
  });
});
