import { describe, expect, it } from "vitest";
import { parseInputs, type InputName } from "./inputs.js";
import { buildRequestBody, describeDispatcherError, inputForField } from "./request.js";
import type { RunnerContext } from "./runner.js";

const runner: RunnerContext = {
  repository: "octo-org/windows-app",
  sha: "0123456789abcdef0123456789abcdef01234567",
  ref: "refs/heads/main",
  runId: "9876543210",
  runAttempt: "2",
  job: "image",
  step: "build",
  serverUrl: "https://github.com",
  tempDir: "/tmp",
};
const digest = `sha256:${"b".repeat(64)}`;

function inputs(raw: Partial<Record<InputName, string>>) {
  return parseInputs((name) => ({ "dispatcher-url": "https://d.example.com", platforms: "windows/amd64:ltsc2022", ...raw })[name] ?? "", "/w");
}

describe("the build request", () => {
  it("keeps the idempotency key for a repeat of the same step, and tells matrix legs and attempts apart", () => {
    const a = buildRequestBody(inputs({}), runner, digest).idempotencyKey;
    expect(buildRequestBody(inputs({}), runner, digest).idempotencyKey).toBe(a);
    expect(buildRequestBody(inputs({ "github-token": "ghs_other" }), runner, digest).idempotencyKey).toBe(a);
    expect(buildRequestBody(inputs({ platforms: "linux/amd64" }), runner, digest).idempotencyKey).not.toBe(a);
    expect(buildRequestBody(inputs({}), { ...runner, runAttempt: "3" }, digest).idempotencyKey).not.toBe(a);
    expect(buildRequestBody(inputs({}), { ...runner, step: "__run_2" }, digest).idempotencyKey).not.toBe(a);
  });
});

describe("dispatcher errors name the input", () => {
  it.each([
    ["buildArgs.FOO", "build-args"],
    ["labels[\"a b\"]", "labels"],
    ["platforms[1]", "platforms"],
    ["statusContext", "status-context"],
    ["sha", "GITHUB_SHA"],
    ["nonsense", undefined],
  ])("%s → %s", (field, input) => {
    expect(inputForField(field)).toBe(input);
  });

  it("adds the input and the hint to the dispatcher's message", () => {
    expect(describeDispatcherError(400, { error: "tags: is empty but push is true", field: "tags", hint: "add a tag" })).toBe("tags: is empty but push is true (input tags); add a tag");
    expect(describeDispatcherError(400, { error: "sha: bad", field: "sha", hint: "h" })).toBe("sha: bad (from GITHUB_SHA); h");
    expect(describeDispatcherError(502, "<html>bad gateway</html>")).toBe("the dispatcher answered HTTP 502: <html>bad gateway</html>");
  });
});
