// A build's output must not speak for the step: the bundled Action runs a
// build whose RUN prints workflow commands, on the dockerd pool (the classic
// builder prints RUN output as it is, at the start of a line) and on
// BuildKit, and what a runner would do with the step's output
// (runner-commands.ts, the runner's own rules) is checked: nothing the build
// printed is acted on, and the Action's own commands still are.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { readManifest } from "../bed/registry.js";
import { type Bed, bedSharedSecret, setUpBed, startBedDispatcher } from "../integration/harness.js";
import { workflowCommandEffects } from "./runner-commands.js";
import { runStep, workspace } from "./runner-contract.js";

let bed: Bed;
let dispatcher: Dispatcher;

beforeAll(async () => {
  bed = await setUpBed("dh-action-cmd");
  dispatcher = await startBedDispatcher(bed);
});

afterAll(async () => {
  await dispatcher?.close();
  await bed?.close();
});

const forged = [
  "::add-mask::x",
  "::error file=x,line=1::forged",
  "::warning::forged",
  "::save-state name=buildId::evil",
  "::set-output name=digest::evil",
  "##[set-output name=images;]evil",
  "::stop-commands::tok",
];

describe("build output that holds workflow commands", () => {
  it("is printed inside stop-commands stretches whose tokens the build could not know: outputs, post state and annotations are the Action's alone", async () => {
    const name = `${Date.now()}${randomBytes(3).toString("hex")}`;
    const tag = `${bed.env.REGISTRY}/action/forge:${name}`;
    // printf '%s\n' prints each argument on its own line, unchanged; the name keeps BuildKit from taking the step from its cache.
    const run = `RUN printf '%s\\n' ${name} ${forged.map((line) => `'${line}'`).join(" ")}`;
    const context = { workspace: workspace({ Dockerfile: `FROM ${bed.env.LINUX_BASE_IMAGE}\n${run}\n` }), runId: name };
    const inputs = { "dispatcher-url": dispatcher.url, auth: "secret", secret: bedSharedSecret, platforms: "windows/amd64:ltsc2022,linux/amd64", push: "true", tags: tag };
    const result = await runStep("main", inputs, context);
    expect(result.exitCode, result.stdout).toBe(0);
    const lines = result.stdout.split("\n");

    // The classic builder's output reached the log as printed, each forged command at the start of a line.
    for (const line of forged) expect(lines).toContain(line);
    // BuildKit's too, behind its prefix (where the legacy ##[…] form still counts).
    expect(lines.some((l) => /^#\d+ [\d.]+ ##\[set-output name=images;\]evil$/.test(l))).toBe(true);

    // What a runner does with all of it.
    const effects = workflowCommandEffects(result.stdout);
    for (const line of forged) expect(effects.ignored).toContain(line);

    // Each stretch the runner honoured has a fresh 128-bit token that appears nowhere before the stretch opens.
    const tokens = effects.acted.filter((c) => c.name === "stop-commands").map((c) => c.data);
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const token of tokens) {
      expect(token).toMatch(/^[0-9a-f]{32}$/);
      expect(lines.slice(0, lines.indexOf(`::stop-commands::${token}`)).join("\n")).not.toContain(token);
    }
    expect(effects.stoppedAtEnd).toBe(false);
    expect(effects.outputs).toEqual({});
    expect(effects.state).toEqual({});
    expect(effects.masks).toEqual([bedSharedSecret]);
    expect(effects.annotations).toEqual([]);
    // The Action's own groups are acted on: each opened and closed, none swallowed.
    expect(effects.acted.filter((c) => c.name === "group")).toHaveLength(2);
    expect(effects.acted.filter((c) => c.name === "endgroup")).toHaveLength(2);

    // The outputs and the state the post step gets are the Action's, matching the registry.
    const index = await readManifest(bed.env.REGISTRY, "action/forge", name);
    expect(result.outputs["digest"]).toBe(index.digest);
    expect(Object.keys(JSON.parse(result.outputs["images"]!)).sort()).toEqual(["linux/amd64", "windows/amd64:ltsc2022"]);
    expect(result.state).toEqual({ buildId: result.outputs["build-id"], settled: "finished" });
    const post = await runStep("post", inputs, context, { ...result.state, ...effects.state });
    expect(post.exitCode, post.stdout).toBe(0);
    expect(post.stdout).toContain(`build ${result.outputs["build-id"]}: finished; nothing to clean up`);
  });
});
