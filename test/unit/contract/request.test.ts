// The Action's request body against the dispatcher's own validation
// (dispatcher/protocol/build-request-validation.ts): every input reaches its field, and the
// Action's early checks of its inputs (action/inputs.ts, from the rules in
// dispatcher/protocol/request-rules.ts) accept exactly what the dispatcher
// accepts, so a workflow is never refused after its context was uploaded for
// something the Action could have said at once, nor refused by the Action for
// something the dispatcher would build.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError, type InputName } from "../../../action/inputs.js";
import { buildRequestBody } from "../../../action/request.js";
import { testInputs, testRunner } from "../../../action/test-fixtures.js";
import { validateBuildRequest } from "../../../dispatcher/protocol/build-request-validation.js";
import { RequestError } from "../../../dispatcher/protocol/errors.js";
import { reservedBuildArgs } from "../../../dispatcher/protocol/request-rules.js";

const runner = testRunner();
const digest = `sha256:${"b".repeat(64)}`;

const inputs = testInputs;

describe("the build request", () => {
  it("is a body the dispatcher's own validator accepts, with every input in its field", () => {
    const body = buildRequestBody(
      inputs({ push: "true", tags: "r.example/app:1", "build-args": "A=1", labels: "team=core", target: "runtime", builder: "docker", "status-context": "ci", file: "docker/Dockerfile", "github-token": "ghs_x" }),
      runner,
      digest,
    );
    const validated = validateBuildRequest(body);
    expect(validated).toMatchObject({
      repository: runner.repository,
      sha: runner.sha,
      ref: runner.ref,
      context: digest,
      file: "docker/Dockerfile",
      target: "runtime",
      tags: ["r.example/app:1"],
      buildArgs: { A: "1" },
      labels: { team: "core" },
      push: true,
      platforms: ["windows/amd64:ltsc2022"],
      builder: "docker",
      statusContext: "ci",
      githubToken: "ghs_x",
    });
    expect(validated.idempotencyKey).toMatch(/^9876543210\/2\/image\/build\/[0-9a-f]{16}$/);
  });
});

type Verdict = { ok: true } | { ok: false; said: string };

/** The Action's verdict on one input (the others valid). */
function actionVerdict(raw: Partial<Record<InputName, string>>): Verdict {
  try {
    inputs(raw);
    return { ok: true };
  } catch (err) {
    if (err instanceof InputError) return { ok: false, said: err.message };
    throw err;
  }
}

/** The dispatcher's verdict on the same value in its field of a body that is otherwise the Action's. */
function dispatcherVerdict(field: string, value: unknown): Verdict {
  const body = { ...buildRequestBody(inputs({}), runner, digest), [field]: value };
  try {
    validateBuildRequest(body);
    return { ok: true };
  } catch (err) {
    if (err instanceof RequestError) return { ok: false, said: err.message };
    throw err;
  }
}

/** Both accept, or both refuse; on a disagreement, what each said. */
function expectAgreement(input: InputName, text: string, field: string, value: unknown): void {
  const action = actionVerdict({ [input]: text });
  const dispatcher = dispatcherVerdict(field, value);
  expect({ input, text, action, dispatcher: dispatcher.ok }).toMatchObject({ action: { ok: dispatcher.ok } });
}

// Characters the patterns are about; no spaces at the ends (the Action trims
// its inputs, as the runner does), no "=" or "#" in keys (KEY=VALUE lines, comments).
const keyish = (extra: string, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(..."aZ_0-9./:@ é".split(""), ...extra.split("")), minLength: 1, maxLength }).filter((s) => s === s.trim());
const budget = { numRuns: 300 };

describe("the Action's input checks and the dispatcher agree", () => {
  it("on build-arg names, reserved ones included", () => {
    fc.assert(
      fc.property(fc.oneof(keyish("AB$", 24), fc.constantFrom(...reservedBuildArgs, "DOCKHAND_BASE_IMAGE", "DOCKHAND_X", "dockhand_x", "TARGETOS2")), (name) =>
        expectAgreement("build-args", `${name}=v`, "buildArgs", { [name]: "v" }),
      ),
      budget,
    );
  });

  it("on label keys", () => {
    fc.assert(fc.property(keyish("AB", 40), (key) => expectAgreement("labels", `${key}=v`, "labels", { [key]: "v" })), budget);
  });

  it("on stage names (target)", () => {
    fc.assert(fc.property(keyish("Ab", 40), (target) => expectAgreement("target", target, "target", target)), budget);
  });

  it("on status contexts, their length included", () => {
    fc.assert(
      fc.property(fc.oneof(keyish("Ab /", 30), fc.integer({ min: 95, max: 105 }).map((n) => "c".repeat(n))), (context) =>
        expectAgreement("status-context", context, "statusContext", context),
      ),
      budget,
    );
  });

  it("on GitHub tokens", () => {
    fc.assert(fc.property(keyish("ghs", 40), (token) => expectAgreement("github-token", token, "githubToken", token)), budget);
  });

  it("on platforms", () => {
    const platforms = ["linux/amd64", "windows/amd64:ltsc2019", "windows/amd64:ltsc2022", "windows/amd64:ltsc2025", "windows/amd64:ltsc2016", "windows/amd64", "windows/amd64:2022", "Windows/amd64:ltsc2022", "linux/arm64", "linux/amd64:x", "darwin/amd64", "amd64"];
    for (const platform of platforms) expectAgreement("platforms", platform, "platforms", [platform]);
  });

  it("on builders", () => {
    for (const builder of ["auto", "docker", "buildkit", "kaniko", "Docker"]) expectAgreement("builder", builder, "builder", builder);
  });
});
