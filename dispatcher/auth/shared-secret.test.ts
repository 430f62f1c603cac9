import { describe, expect, it } from "vitest";
import { AuthenticationError } from "./auth-error.js";
import { NonceCache } from "./nonce-cache.js";
import { sha256Hex, signRequest } from "../protocol/request-signature.js";
import { SharedSecretVerifier } from "./shared-secret.js";

const secrets = [
  { name: "ci", secret: "c".repeat(40), repositories: ["octo-org/*"] },
  { name: "release", secret: "r".repeat(40), repositories: ["octo-org/app"] },
];
const now = new Date("2026-11-23T20:00:00Z");
const body = sha256Hex('{"a":1}');

function verify(verifier: SharedSecretVerifier, headers: object, path = "/v1/builds", method = "POST") {
  try {
    return verifier.verify({ method, pathWithQuery: path, headers: headers as Record<string, string>, bodySha256Hex: body });
  } catch (err) {
    if (err instanceof AuthenticationError) return { status: err.status, reason: err.reason, header: err.header };
    throw err;
  }
}

describe("SharedSecretVerifier", () => {
  it("names which configured secret signed the request, and accepts it once", () => {
    const verifier = new SharedSecretVerifier(() => secrets, { now: () => now });
    const headers = signRequest("r".repeat(40), "POST", "/v1/builds", body, now);
    expect(verify(verifier, headers)).toEqual({ kind: "shared-secret", name: "release", repositories: ["octo-org/app"] });
    expect(verify(verifier, headers)).toMatchObject({ status: 401, header: "x-dockhand-nonce", reason: "x-dockhand-nonce was already used: a signed request is accepted once" });
  });

  it.each([
    { name: "an unknown secret", headers: () => signRequest("x".repeat(40), "POST", "/v1/builds", body, now), reason: /signature does not match/ },
    { name: "another method", headers: () => signRequest("c".repeat(40), "PUT", "/v1/builds", body, now), reason: /signature does not match/ },
    { name: "another path", headers: () => signRequest("c".repeat(40), "POST", "/v1/builds?x=1", body, now), reason: /signature does not match/ },
    { name: "another body", headers: () => signRequest("c".repeat(40), "POST", "/v1/builds", sha256Hex("{}"), now), reason: /signature does not match/ },
    { name: "a stale timestamp", headers: () => signRequest("c".repeat(40), "POST", "/v1/builds", body, new Date(now.getTime() - 301_000)), reason: /301 s away/ },
    { name: "no nonce", headers: () => ({ ...signRequest("c".repeat(40), "POST", "/v1/builds", body, now), "x-dockhand-nonce": undefined }), reason: /missing x-dockhand-nonce/ },
  ])("refuses $name with 401", ({ headers, reason }) => {
    const verifier = new SharedSecretVerifier(() => secrets, { now: () => now });
    const result = verify(verifier, headers());
    expect(result).toMatchObject({ status: 401 });
    expect((result as { reason: string }).reason).toMatch(reason);
  });

  it("refuses with 503 rather than forget a live nonce when the cache is full", () => {
    const verifier = new SharedSecretVerifier(() => secrets, { now: () => now, maxNonces: 2 });
    expect(verify(verifier, signRequest("c".repeat(40), "POST", "/v1/builds", body, now))).toMatchObject({ kind: "shared-secret" });
    expect(verify(verifier, signRequest("c".repeat(40), "POST", "/v1/builds", body, now))).toMatchObject({ kind: "shared-secret" });
    expect(verify(verifier, signRequest("c".repeat(40), "POST", "/v1/builds", body, now))).toMatchObject({ status: 503 });
  });

  it("refuses every signature when no secret is configured", () => {
    const verifier = new SharedSecretVerifier(() => [], { now: () => now });
    expect(verify(verifier, signRequest("c".repeat(40), "POST", "/v1/builds", body, now))).toMatchObject({ status: 401, reason: expect.stringMatching(/no auth.sharedSecrets/) });
  });
});

describe("NonceCache", () => {
  it("forgets a nonce once its timestamp has left the window, not before", () => {
    let clock = 1_000_000_000_000;
    const cache = new NonceCache({ windowSeconds: 300, maxEntries: 1, now: () => clock });
    const timestamp = clock / 1000;
    expect(cache.remember("a", timestamp)).toBe("fresh");
    expect(cache.remember("a", timestamp)).toBe("replayed");
    expect(cache.remember("b", timestamp)).toBe("full");
    clock += 302_000;
    expect(cache.remember("b", clock / 1000)).toBe("fresh");
    expect(cache.size).toBe(1);
  });
});
