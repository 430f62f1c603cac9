import { describe, expect, it } from "vitest";
import { signContextUrl, verifyContextUrl } from "../../../dispatcher/contexts/signed-url.js";

const key = "0123456789abcdef0123456789abcdef";
const digest = `sha256:${"ab".repeat(32)}`;
const otherDigest = `sha256:${"cd".repeat(32)}`;
const buildId = "k7q2m4x9z3ab";
const now = new Date("2030-01-01T00:00:00Z");
const expiresAt = new Date("2030-01-01T01:00:00Z");

function signed(): { pathDigest: string; build: string; expires: string; sig: string; url: URL } {
  const url = new URL(signContextUrl({ publicUrl: "https://dockhand.example.com/base", digest, buildId, expiresAt, key }));
  const pathDigest = url.pathname.split("/").at(-2) ?? "";
  return {
    url,
    pathDigest,
    build: url.searchParams.get("build") ?? "",
    expires: url.searchParams.get("expires") ?? "",
    sig: url.searchParams.get("sig") ?? "",
  };
}

describe("signContextUrl", () => {
  it("puts the hex digest in the path and build, expiry and signature in the query", () => {
    const { url } = signed();
    expect(url.origin + url.pathname).toBe(`https://dockhand.example.com/base/v1/contexts/${"ab".repeat(32)}/download`);
    expect(url.searchParams.get("build")).toBe(buildId);
    expect(url.searchParams.get("expires")).toBe(String(expiresAt.getTime() / 1000));
    expect(url.searchParams.get("sig")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("refuses a build id that is not a DNS label", () => {
    expect(() => signContextUrl({ publicUrl: "https://x", digest, buildId: "a\nb", expiresAt, key })).toThrow(/DNS label/);
  });
});

describe("verifyContextUrl", () => {
  it("accepts the URL it signed, with the digest in either form", () => {
    const s = signed();
    for (const pathDigest of [s.pathDigest, digest]) {
      expect(verifyContextUrl({ digest: pathDigest, build: s.build, expires: s.expires, sig: s.sig, key, now })).toEqual({
        valid: true,
        buildId,
        digest,
        expiresAt,
      });
    }
  });

  const flipped = (sig: string) => (sig[0] === "A" ? "B" : "A") + sig.slice(1);
  const cases: Array<[string, (s: ReturnType<typeof signed>) => Parameters<typeof verifyContextUrl>[0], string]> = [
    ["another build's id", (s) => ({ digest: s.pathDigest, build: "otherbuild01", expires: s.expires, sig: s.sig, key, now }), "bad-signature"],
    ["another context", (s) => ({ digest: otherDigest, build: s.build, expires: s.expires, sig: s.sig, key, now }), "bad-signature"],
    ["a later expiry", (s) => ({ digest: s.pathDigest, build: s.build, expires: String(Number(s.expires) + 3600), sig: s.sig, key, now }), "bad-signature"],
    ["a tampered signature", (s) => ({ digest: s.pathDigest, build: s.build, expires: s.expires, sig: flipped(s.sig), key, now }), "bad-signature"],
    ["a truncated signature", (s) => ({ digest: s.pathDigest, build: s.build, expires: s.expires, sig: s.sig.slice(0, 20), key, now }), "bad-signature"],
    ["another key", (s) => ({ digest: s.pathDigest, build: s.build, expires: s.expires, sig: s.sig, key: `${key}x`, now }), "bad-signature"],
    ["the expiry instant", (s) => ({ digest: s.pathDigest, build: s.build, expires: s.expires, sig: s.sig, key, now: expiresAt }), "expired"],
    ["a time after expiry", (s) => ({ digest: s.pathDigest, build: s.build, expires: s.expires, sig: s.sig, key, now: new Date("2031-01-01T00:00:00Z") }), "expired"],
    ["no signature", (s) => ({ digest: s.pathDigest, build: s.build, expires: s.expires, sig: undefined, key, now }), "malformed"],
    ["no build", (s) => ({ digest: s.pathDigest, build: undefined, expires: s.expires, sig: s.sig, key, now }), "malformed"],
    ["a non-numeric expiry", (s) => ({ digest: s.pathDigest, build: s.build, expires: "1e10", sig: s.sig, key, now }), "malformed"],
    ["a malformed digest", (s) => ({ digest: "sha256:zz", build: s.build, expires: s.expires, sig: s.sig, key, now }), "malformed"],
    ["a build id with a newline", (s) => ({ digest: s.pathDigest, build: `${s.build}\n`, expires: s.expires, sig: s.sig, key, now }), "malformed"],
  ];

  it.each(cases)("rejects %s", (_name, tamper, reason) => {
    expect(verifyContextUrl(tamper(signed()))).toEqual({ valid: false, reason });
  });
});
