import { describe, expect, it } from "vitest";
import { buildRequestBody, describeDispatcherError, inputForField } from "./request.js";
import { testInputs, testRunner } from "./test-fixtures.js";

const runner = testRunner();
const digest = `sha256:${"b".repeat(64)}`;

const inputs = testInputs;

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
