// Annotations where the problem is: the bundled Action against the dispatcher
// on the bed, with the Dockerfile in a subfolder of a subfolder context, so
// the annotation must name it by its path in the repository (what a pull
// request's Files view matches), not by its path in the context.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, bedSharedSecret, setUpBed, startBedDispatcher } from "../integration/harness.js";
import { workflowCommandEffects } from "./runner-commands.js";
import { runStep, workspace } from "./runner-contract.js";

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-action-ann");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

const unique = () => `${Date.now()}${randomBytes(3).toString("hex")}`;
const file = "app/docker/Dockerfile";

async function step(dockerfile: string, inputs: Record<string, string>) {
  const result = await runStep(
    "main",
    { "dispatcher-url": dispatcher.url, auth: "secret", secret: bedSharedSecret, context: "app", file, ...inputs },
    { workspace: workspace({ [file]: dockerfile, "app/src/main.c": "int main() { return 0; }\n" }), runId: unique() },
  );
  return { result, annotations: workflowCommandEffects(result.stdout).annotations };
}

describe("a Dockerfile the dispatcher refuses", () => {
  it.each<{ name: string; dockerfile: string; inputs: Record<string, string>; line: string; error: RegExp }>([
    {
      name: "builder buildkit with a Windows RUN: the RUN",
      dockerfile: "# the app, built on Windows\nARG BASE=mcr.microsoft.com/windows/servercore:ltsc2022\n\nFROM ${BASE}\nCOPY src C:/src\nRUN cl /c C:\\src\\main.c\n",
      inputs: { platforms: "windows/amd64:ltsc2022", builder: "buildkit" },
      line: "6",
      error: /^builder: "buildkit" cannot build windows\/amd64:ltsc2022: windows stage #0 has RUN \(line 6\), which BuildKit cannot run \(input builder\); use builder "docker"/,
    },
    {
      name: "a Windows base tag Microsoft does not publish: its FROM",
      dockerfile: "# COPY-only\n\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2019\nCOPY src C:/src\n",
      inputs: { platforms: "windows/amd64:ltsc2019" },
      line: "3",
      error: /^file: line 3: mcr\.microsoft\.com\/windows\/nanoserver has no tag "ltsc2019"/,
    },
  ])("annotates the line at fault in the repository's file: $name", async ({ dockerfile, inputs, line, error }) => {
    const { result, annotations } = await step(dockerfile, inputs);
    expect(result.exitCode, result.stdout).toBe(1);
    // One annotation, on the Dockerfile line, saying what the dispatcher said.
    expect(annotations).toHaveLength(1);
    expect(annotations[0]).toMatchObject({ kind: "error", properties: { file, line, title: "dockhand: the dispatcher refused the Dockerfile" } });
    expect(annotations[0]!.message).toMatch(new RegExp(`^request the build: ${error.source.slice(1)}`));
    expect(result.outputs["build-id"]).toBeUndefined();
  });
});

describe("a build that fails in a RUN", () => {
  it("annotates the failing RUN's line for each builder: the classic builder's Step and BuildKit's '<file>:<line>'", async () => {
    // A parser directive, a comment, global ARGs, a blank line and a continued RUN before it: line 9.
    const dockerfile = [
      "# escape=\\",
      "# the app",
      "ARG BASE",
      `ARG IMAGE=${bed.env.LINUX_BASE_IMAGE}`,
      "",
      "FROM ${IMAGE}",
      `RUN echo compiling ${unique()} \\`,
      "  && echo compiled",
      'RUN echo "error C2143: syntax error" && exit 2',
      "COPY src /src",
      "",
    ].join("\n");
    const { result, annotations } = await step(dockerfile, { platforms: "windows/amd64:ltsc2019,linux/amd64" });
    expect(result.exitCode).toBe(1);
    const metadata = JSON.parse(result.outputs["metadata"]!) as { platforms: { platform: string; builder: string; state: string }[] };
    expect(Object.fromEntries(metadata.platforms.map((p) => [p.platform, [p.builder, p.state]]))).toEqual({
      "windows/amd64:ltsc2019": ["docker", "failed"],
      "linux/amd64": ["buildkit", "failed"],
    });
    const byTitle = Object.fromEntries(annotations.map((a) => [a.properties["title"] ?? "", a]));
    for (const platform of ["windows/amd64:ltsc2019", "linux/amd64"]) {
      const annotation = byTitle[`dockhand: ${platform} failed`];
      expect(annotation, JSON.stringify(annotations)).toBeDefined();
      expect(annotation!.properties).toMatchObject({ file, line: "9" });
      expect(annotation!.message).toContain("error C2143: syntax error");
    }
    // And the step's own failure, which has no place, and nothing else.
    expect(annotations.map((a) => a.properties["title"] ?? `untitled, file ${a.properties["file"]}`).sort()).toEqual([
      "dockhand: linux/amd64 failed",
      "dockhand: windows/amd64:ltsc2019 failed",
      "untitled, file undefined",
    ]);
  });
});
