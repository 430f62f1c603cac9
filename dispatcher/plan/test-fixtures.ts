// Shared inputs for the plan tests: a validated request and a resolved config,
// built through the real validators so fixtures cannot drift from the schemas.

import type { BuildRequest } from "../protocol/build-request.js";
import { validateBuildRequest } from "../protocol/build-request-validation.js";
import type { Config } from "../config/schema.js";
import { resolveConfig } from "../config/validate.js";

export const sha = "0123456789abcdef0123456789abcdef01234567";
export const contextDigest = `sha256:${"c".repeat(64)}`;
export const contextUrl = `http://dockhand.dockhand.svc:8080/v1/contexts/${"c".repeat(64)}/download?build=abcdefghijkl&expires=1700000000&sig=deadbeef`;

export function testRequest(overrides: Record<string, unknown> = {}): BuildRequest {
  return validateBuildRequest({
    repository: "octo-org/app",
    sha,
    ref: "refs/heads/main",
    context: contextDigest,
    tags: ["127.0.0.1:15000/octo-org/app:1.0"],
    platforms: ["windows/amd64:ltsc2022"],
    ...overrides,
  });
}

export const testDockerPool = {
  pools: {
    ltsc2019: { nodeSelector: { agentpool: "win19" }, tolerations: [{ key: "os", operator: "Equal", value: "windows", effect: "NoSchedule" }] },
    ltsc2022: { nodeSelector: { agentpool: "win22" }, tolerations: [{ key: "os", operator: "Equal", value: "windows", effect: "NoSchedule" }] },
    ltsc2025: { nodeSelector: { agentpool: "win25" }, tolerations: [{ key: "node.kubernetes.io/os", operator: "Equal", value: "windows", effect: "NoSchedule" }] },
  },
  images: { ltsc2022: "127.0.0.1:15000/docker:29-windowsservercore-ltsc2022", ltsc2019: "127.0.0.1:15000/docker:29-windowsservercore-1809" },
};

export function testConfig(overrides: Record<string, unknown> = {}): Config {
  return resolveConfig(
    {
      publicUrl: "http://dockhand.dockhand.svc:8080",
      contexts: { signingKey: "k".repeat(32) },
      dockerPool: testDockerPool,
      buildkit: { address: "tcp://127.0.0.1:11234", image: "127.0.0.1:15000/buildctl:test", nodeSelector: { pool: "buildkit" } },
      registry: { secretName: "registry-push", insecureRegistries: ["127.0.0.1:15000"] },
      ...overrides,
    },
    {},
    "test",
  );
}
