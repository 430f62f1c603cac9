import { describe, expect, it } from "vitest";
import { LiveConfig } from "../config/live-config.js";
import { testConfig } from "../plan/test-fixtures.js";
import { accessOf } from "./access.js";
import pino from "pino";
import { redactingLogger, redactUrl } from "./log-redaction.js";

describe("accessOf: every route's access", () => {
  it.each([
    ["PUT", "/v1/contexts/:sha256", "authenticated"],
    ["HEAD", "/v1/contexts/:sha256", "open"],
    ["GET", "/v1/contexts/:sha256/download", "own-check"],
    ["POST", "/v1/builds", "authenticated"],
    ["GET", "/v1/builds", "build-list"],
    ["GET", "/v1/builds/:id", "build-read"],
    ["GET", "/v1/builds/:id/logs", "build-read"],
    ["GET", "/v1/builds/:id/events", "build-read"],
    ["DELETE", "/v1/builds/:id", "authenticated"],
    ["POST", "/webhooks/github", "own-check"],
    ["GET", "/healthz", "open"],
    ["GET", "/metrics", "open"],
    ["GET", "/openapi.json", "open"],
    ["POST", "/v1/something-new", "authenticated"],
    ["PATCH", "/anything", "authenticated"],
    ["GET", "/v1/something-new", "authenticated"],
    ["POST", undefined, "authenticated"],
  ] as const)("%s %s: %s", (method, route, access) => {
    expect(accessOf(method, route)).toBe(access);
  });
});

describe("redactUrl", () => {
  it.each([
    ["/v1/contexts/abc/download?build=b&expires=1&sig=SECRET", "/v1/contexts/abc/download?build=b&expires=1&sig=[redacted]"],
    ["/x?sig=SECRET&build=b", "/x?sig=[redacted]&build=b"],
    ["/x?token=SECRET", "/x?token=[redacted]"],
    ["/v1/builds/abc", "/v1/builds/abc"],
  ])("%s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe("redactingLogger", () => {
  it("censors credential fields, however a caller names them", () => {
    const lines: string[] = [];
    const log = redactingLogger(pino({}, { write: (line: string) => lines.push(line) }));
    log.info({ githubToken: "ghs_1", headers: { authorization: "Bearer 2", "x-hub-signature-256": "sha256=3" }, github: { token: "4" }, secret: "5" }, "m");
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ githubToken: "[redacted]", headers: { authorization: "[redacted]", "x-hub-signature-256": "[redacted]" }, github: { token: "[redacted]" }, secret: "[redacted]" });
  });
});

describe("LiveConfig", () => {
  it("applies the policy, shared secrets, build reads and webhook secret; names any other change as needing a restart", () => {
    const before = testConfig();
    const live = new LiveConfig(before);
    const next = testConfig({
      policy: { repositories: [{ repository: "octo-org/*" }] },
      webhooks: { secret: "w".repeat(20) },
      listen: { port: 9999 },
    });
    expect(live.replace(next)).toEqual({ applied: ["policy", "webhooks.secret"], needRestart: ["listen.port"] });
    expect(live.current.policy.repositories[0]?.repository).toBe("octo-org/*");
    expect(live.current.webhooks.secret).toBe("w".repeat(20));
    expect(live.current.listen.port).toBe(before.listen.port);
  });
});
