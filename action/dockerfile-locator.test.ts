import { describe, expect, it } from "vitest";
import type { LogLine } from "../dispatcher/protocol/build-logs.js";
import { DockerfileLocator } from "./dockerfile-locator.js";

const dockerfile = "# build the app\nARG BASE=busybox\nFROM ${BASE}\nRUN echo one \\\n  && echo two\nRUN make\n";
const builders: Record<string, string> = { "windows/amd64:ltsc2022": "docker", "linux/amd64": "buildkit" };
const line = (platform: string, step: string, text: string): LogLine => ({ platform, step, n: 1, line: text });

function locate(lines: LogLine[]) {
  const locator = new DockerfileLocator("docker/Dockerfile", dockerfile, (platform) => builders[platform]);
  for (const l of lines) locator.line(l);
  return locator;
}

describe("DockerfileLocator", () => {
  it("classic builder: the last Step announced, mapped to its line, whatever the RUN printed after it", () => {
    const locator = locate([
      line("windows/amd64:ltsc2022", "build", "Step 3/4 : RUN echo one   && echo two"),
      line("windows/amd64:ltsc2022", "build", "Step 4/4 : RUN make"),
      ...Array.from({ length: 50 }, (_, i) => line("windows/amd64:ltsc2022", "build", `make: output ${i}`)),
      line("windows/amd64:ltsc2022", "build", "The command 'cmd /S /C make' returned a non-zero code: 2"),
    ]);
    expect(locator.lineOf("windows/amd64:ltsc2022", "build")).toBe(6);
  });

  it("BuildKit: the '<file>:<line>' it prints over the failing instruction", () => {
    const locator = locate([
      line("linux/amd64", "build", "#6 [2/3] RUN echo one   && echo two"),
      line("linux/amd64", "build", "#6 0.04 Dockerfile:99"),
      line("linux/amd64", "build", "docker/Dockerfile:4"),
      line("linux/amd64", "build", "--------------------"),
    ]);
    expect(locator.lineOf("linux/amd64", "build")).toBe(4);
  });

  it.each([
    ["another step failed (a push): no line", [line("windows/amd64:ltsc2022", "build", "Step 4/4 : RUN make")], "push-0", undefined],
    ["a step of another Dockerfile forgets the line before", [line("windows/amd64:ltsc2022", "build", "Step 3/4 : RUN x"), line("windows/amd64:ltsc2022", "build", "Step 4/4 : COPY a b")], "build", undefined],
    ["a Step line printed by BuildKit's RUN is only output", [line("linux/amd64", "build", "Step 4/4 : RUN make")], "build", undefined],
    ["a BuildKit-style line from the classic builder's RUN is only output", [line("windows/amd64:ltsc2022", "build", "docker/Dockerfile:4")], "build", undefined],
  ] as const)("%s", (_name, lines, step, expected) => {
    expect(locate([...lines]).lineOf(lines[0]!.platform, step)).toBe(expected);
  });

  it("without the Dockerfile's text, a classic step has no line", () => {
    const locator = new DockerfileLocator("docker/Dockerfile", undefined, (platform) => builders[platform]);
    locator.line(line("windows/amd64:ltsc2022", "build", "Step 4/4 : RUN make"));
    expect(locator.lineOf("windows/amd64:ltsc2022", "build")).toBeUndefined();
  });
});
