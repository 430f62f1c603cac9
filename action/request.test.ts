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

describe("build-push-action's options in the request", () => {
  it("sends them only when set, so a request without them is unchanged", () => {
    const body = buildRequestBody(inputs({}), runner, digest);
    for (const field of ["pull", "noCache", "secrets", "cacheFrom", "cacheTo", "annotations", "provenance", "sbom"]) expect(body).not.toHaveProperty(field);
  });

  it("sends each as the contract names it", () => {
    const body = buildRequestBody(
      inputs({ pull: "true", "no-cache": "true", secrets: "token=s3cr3t", "cache-from": "ghcr.io/o/app:cache", "cache-to": "ghcr.io/o/app:cache", annotations: "index:k=v", provenance: "true", sbom: "generator=ghcr.io/o/scanner:1" }),
      runner,
      digest,
    );
    expect(body).toMatchObject({ pull: true, noCache: true, secrets: { token: "s3cr3t" }, cacheFrom: ["ghcr.io/o/app:cache"], cacheTo: ["ghcr.io/o/app:cache"], annotations: ["index:k=v"], provenance: "min", sbom: { generator: "ghcr.io/o/scanner:1" } });
  });

  it("hashes the secrets' ids into the idempotency key, never their values", () => {
    const key = (secrets: string) => buildRequestBody(inputs({ secrets }), runner, digest).idempotencyKey;
    expect(key("token=one")).toBe(key("token=two"));
    expect(key("token=one")).not.toBe(key("other=one"));
    expect(key("token=one")).not.toBe(key(""));
  });

  it("names the inputs behind a refusal of secrets", () => {
    expect(inputForField("secrets")).toBe("secrets, secret-files or secret-envs");
    expect(inputForField("cacheTo[0]")).toBe("cache-to");
    expect(inputForField("sbom.generator")).toBe("sbom");
  });
});
