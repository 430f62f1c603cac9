// The Action finds a failing classic builder step's line with the small
// splitter in dispatcher/protocol/dockerfile-lines.ts (it keeps dockerfile-ast
// out of the bundle); the dispatcher's planner reads Dockerfiles, and names
// their lines in refusals, with dockerfile-ast. Both must put the
// instructions on the same lines, or the Action would annotate another line
// than the one the planner means.

import { DockerfileParser } from "dockerfile-ast";
import { describe, expect, it } from "vitest";
import { dockerfileInstructions } from "../../../dispatcher/protocol/dockerfile-lines.js";

const dockerfiles: Record<string, string> = {
  "escape directive, comments and blank lines, inside a continuation too":
    "# escape=`\n# a comment\n\nARG BASE=busybox\nARG OTHER\nFROM ${BASE} AS one\n  # indented comment\nrun echo a `\n  # comment inside continuation\n\n  && echo b\nFROM one\nLABEL x=1\nRUN echo c && exit 4\n",
  "backslash continuations with trailing spaces": "FROM busybox\nRUN a \\  \n  b \\\n  c\nCMD [\"x\"]\n",
  "CRLF line ends": "FROM busybox\r\nRUN a \\\r\n  b\r\nENV X=1\r\n",
  "a backtick without the directive": "FROM busybox\nRUN echo `\nENV X=1\n",
  "a directive after a comment": "# hello\n# escape=`\nFROM busybox\nRUN a `\nENV X=1\n",
  "indented instructions": "  FROM busybox\n\tRUN a\n",
  "a Windows path ending in a backslash": "FROM busybox\nWORKDIR C:\\app\\\nRUN a\n",
  "a Windows multi-stage Dockerfile as the demo builds":
    "# syntax=docker/dockerfile:1\nARG WINDOWS_VERSION=ltsc2022\nFROM mcr.microsoft.com/windows/servercore:${WINDOWS_VERSION} AS build\nSHELL [\"powershell\", \"-Command\"]\nRUN Write-Host building; `\n    New-Item -ItemType Directory C:\\out\nCOPY --from=build C:/out C:/app\nONBUILD RUN echo later\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\nENTRYPOINT [\"C:\\\\app\\\\app.exe\"]\n",
};

describe("dockerfileInstructions and dockerfile-ast", () => {
  it.each(Object.entries(dockerfiles))("put the instructions on the same lines: %s", (_name, dockerfile) => {
    const byDockerfileAst = DockerfileParser.parse(dockerfile)
      .getInstructions()
      .map((instruction) => ({ line: instruction.getRange().start.line + 1, keyword: instruction.getInstruction() }));
    expect(dockerfileInstructions(dockerfile)).toEqual(byDockerfileAst);
  });
});
