// The step run the way docs/testing.md shows, with GitHub's own tool for
// running an action on a workstation: @github/local-action (a devDependency)
// imports action/main.ts, calls its run() with @actions/core replaced by its
// stand-in, and prints the outputs once run() returns. That works only if run()
// neither exits the process nor leaves anything holding it open. The
// dispatcher is the bed's, as `npm start` would be.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { readManifest } from "../bed/registry.js";
import { type Bed, bedSharedSecret, setUpBed, startBedDispatcher } from "../integration/harness.js";
import { repoRoot, workspace } from "./runner-contract.js";

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-local-action");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

describe("npx @github/local-action run . action/main.ts .env", () => {
  it("runs the step against the dispatcher, prints its outputs and ends by itself", async () => {
    const name = `${Date.now()}${randomBytes(3).toString("hex")}`;
    const tag = `${bed.env.REGISTRY}/action/local-action:${name}`;
    const checkout = workspace({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\nRUN echo built-by-local-action-${name}\n` });
    const dir = mkdtempSync(join(tmpdir(), "dh-local-action-"));
    // The .env docs/testing.md shows: the inputs as INPUT_*, and what the runner would set.
    const dotenv = join(dir, ".env");
    writeFileSync(
      dotenv,
      [
        `INPUT_DISPATCHER-URL=${dispatcher.url}`,
        "INPUT_AUTH=secret",
        `INPUT_SECRET=${bedSharedSecret}`,
        "INPUT_PLATFORMS=linux/amd64",
        "INPUT_PUSH=true",
        `INPUT_TAGS=${tag}`,
        "GITHUB_REPOSITORY=octo-org/windows-app",
        "GITHUB_SHA=0123456789abcdef0123456789abcdef01234567",
        "GITHUB_REF=refs/heads/main",
        `GITHUB_RUN_ID=${name}`,
        "GITHUB_JOB=image",
        `GITHUB_WORKSPACE=${checkout}`,
        `RUNNER_TEMP=${dir}`,
        "",
      ].join("\n"),
    );
    const child = spawn(join(repoRoot, "node_modules/.bin/local-action"), ["run", ".", "action/main.ts", dotenv], {
      cwd: repoRoot,
      env: { PATH: process.env["PATH"], HOME: process.env["HOME"] },
    });
    let stdout = "";
    let lastOutput = Date.now();
    const record = (chunk: Buffer) => {
      stdout += chunk.toString();
      lastOutput = Date.now();
    };
    child.stdout.on("data", record);
    child.stderr.on("data", record);
    const exitCode = await new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const lingeredMs = Date.now() - lastOutput;

    expect(exitCode, stdout).toBe(0);
    expect(stdout).toContain(`built-by-local-action-${name}`);
    // Its table of outputs, printed after run() returned, with the digest the registry serves under the tag.
    const outputs = stdout.slice(stdout.indexOf("Action Outputs"));
    const manifest = await readManifest(bed.env.REGISTRY, "action/local-action", name);
    expect(outputs).toMatch(/│ 'build-id'\s+│ '[a-z0-9]{12}'/);
    expect(outputs).toContain(`'${manifest.digest}'`);
    expect(outputs).toContain(`${tag}@${manifest.digest}`);
    // Then the process ended on its own: nothing of the step kept it alive.
    expect(lingeredMs).toBeLessThan(2000);
  });
});
