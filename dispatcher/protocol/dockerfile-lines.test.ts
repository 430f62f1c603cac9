import { describe, expect, it } from "vitest";
import { buildKitErrorLine, classicBuilderStep, classicStepLine, dockerfileInstructions } from "./dockerfile-lines.js";

// The first case is the Dockerfile the bed's classic builder (dockerd 20.10)
// numbered as Step 1/7 … 7/7 at lines 4, 5, 6, 8, 12, 13, 14.
const cases: { name: string; dockerfile: string; lines: number[]; keywords?: string[] }[] = [
  {
    name: "escape directive, comments, blank lines and a comment inside a continuation",
    dockerfile: "# escape=`\n# a comment\n\nARG BASE=busybox\nARG OTHER\nFROM ${BASE} AS one\n  # indented comment\nrun echo a `\n  # comment inside continuation\n\n  && echo b\nFROM one\nLABEL x=1\nRUN echo c && exit 4\n",
    lines: [4, 5, 6, 8, 12, 13, 14],
    keywords: ["ARG", "ARG", "FROM", "run", "FROM", "LABEL", "RUN"],
  },
  { name: "a plain Dockerfile", dockerfile: "FROM busybox\nCOPY . /app\nRUN make\n", lines: [1, 2, 3] },
  { name: "backslash continuations, trailing spaces after the backslash", dockerfile: "FROM busybox\nRUN a \\  \n  b \\\n  c\nCMD [\"x\"]\n", lines: [1, 2, 5] },
  { name: "CRLF line ends and a byte order mark", dockerfile: "\uFEFFFROM busybox\r\nRUN a \\\r\n  b\r\nENV X=1\r\n", lines: [1, 2, 4] },
  { name: "a backtick is no continuation without the directive", dockerfile: "FROM busybox\nRUN echo `\nENV X=1\n", lines: [1, 2, 3] },
  { name: "a directive after a comment is a comment", dockerfile: "# hello\n# escape=`\nFROM busybox\nRUN a `\nENV X=1\n", lines: [3, 4, 5] },
  { name: "leading whitespace before instructions", dockerfile: "  FROM busybox\n\tRUN a\n", lines: [1, 2] },
  { name: "a Windows path ending in a backslash continues, as in docker", dockerfile: "FROM busybox\nWORKDIR C:\\app\\\nRUN a\n", lines: [1, 2] },
];

describe("dockerfileInstructions", () => {
  it.each(cases)("$name", ({ dockerfile, lines, keywords }) => {
    const instructions = dockerfileInstructions(dockerfile);
    expect(instructions.map((i) => i.line)).toEqual(lines);
    if (keywords) expect(instructions.map((i) => i.keyword)).toEqual(keywords);
  });
});

describe("classicBuilderStep and classicStepLine", () => {
  const instructions = dockerfileInstructions(cases[0]!.dockerfile);
  it.each([
    { output: "Step 1/7 : ARG BASE=busybox", step: { step: 1, keyword: "ARG" }, line: 4 },
    { output: "Step 4/7 : run echo a   && echo b", step: { step: 4, keyword: "run" }, line: 8 },
    { output: "Step 7/7 : RUN echo c && exit 4", step: { step: 7, keyword: "RUN" }, line: 14 },
    // Another Dockerfile than the one built: no line rather than a wrong one.
    { output: "Step 6/7 : RUN echo c", step: { step: 6, keyword: "RUN" }, line: undefined },
    { output: "Step 8/8 : CMD x", step: { step: 8, keyword: "CMD" }, line: undefined },
    { output: " ---> Running in 632e2d88da79", step: undefined, line: undefined },
    { output: "#6 0.042 Step 1/2 : RUN x", step: undefined, line: undefined },
  ])("$output", ({ output, step, line }) => {
    expect(classicBuilderStep(output)).toEqual(step);
    expect(step && classicStepLine(instructions, step.step, step.keyword)).toBe(line);
  });
});

describe("buildKitErrorLine", () => {
  it.each([
    { output: "docker/Dockerfile:6", file: "docker/Dockerfile", line: 6 },
    { output: "Dockerfile:12", file: "Dockerfile", line: 12 },
    { output: "Dockerfile:12", file: "docker/Dockerfile", line: undefined },
    { output: "#6 0.042 Dockerfile:12", file: "Dockerfile", line: undefined },
    { output: "Dockerfile:0", file: "Dockerfile", line: undefined },
    { output: "Dockerfile:12-14", file: "Dockerfile", line: undefined },
    { output: "Dockerfile:", file: "Dockerfile", line: undefined },
  ])("$output in a build of $file", ({ output, file, line }) => {
    expect(buildKitErrorLine(output, file)).toBe(line);
  });
});
