import { describe, expect, it } from "vitest";
import { describeConfig } from "./schema.js";
import { ConfigError, type ConfigProblem, parseConfigText, resolveConfig } from "./validate.js";

const signingKey = "k".repeat(32);
const base = { publicUrl: "http://dockhand.dockhand.svc:8080", contexts: { signingKey } };

function problemsOf(raw: unknown, env: Record<string, string> = {}): ConfigProblem[] {
  try {
    resolveConfig(raw, env, "dockhand.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("resolveConfig", () => {
  it("fills every default", () => {
    expect(resolveConfig(base, {}, "dockhand.yaml")).toEqual({
      listen: { host: "0.0.0.0", port: 8080, shutdownGraceSeconds: 10 },
      metrics: {},
      publicUrl: "http://dockhand.dockhand.svc:8080",
      executor: "auto",
      kubernetes: { namespace: "dockhand", leaderElection: { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 } },
      contexts: { dir: "/var/lib/dockhand/contexts", maxBytes: 1073741824, maxUnpackedBytes: 10737418240, ttlSeconds: 21600, signingKey },
      dockerPool: {
        pools: {},
        images: {
          ltsc2019: "docker:29-windowsservercore-1809",
          ltsc2022: "docker:29-windowsservercore-ltsc2022",
          ltsc2025: "docker:29-windowsservercore-ltsc2025",
        },
        maxBuildsPerNode: 2,
        buildRequests: { cpu: "1", memory: "2Gi" },
      },
      buildkit: { address: "tcp://buildkitd.dockhand.svc:1234", image: "moby/buildkit:v0.34.2", nodeSelector: {}, tolerations: [] },
      buildkitWindows: {
        versions: [],
        images: {
          ltsc2019: "ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-ltsc2019",
          ltsc2022: "ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-ltsc2022",
          ltsc2025: "ghcr.io/dockhand-dev/buildctl-windows:v0.34.2-ltsc2025",
        },
      },
      registry: { insecureRegistries: [], validatePlatform: true },
      limits: {
        activeDeadlineSeconds: 3600,
        ttlSecondsAfterFinished: 86400,
        unschedulableAfterSeconds: 600,
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "1Gi" } },
      },
      github: { apiUrl: "https://api.github.com" },
      auth: {
        oidc: { issuer: "https://token.actions.githubusercontent.com", clockSkewSeconds: 60 },
        sharedSecrets: [],
        buildReads: "capability",
        buildList: "authenticated",
        disabled: false,
      },
      webhooks: {},
      policy: { repositories: [] },
      statusContextPrefix: "dockhand",
      local: {},
    });
  });

  it.each([
    {
      name: "env overrides scalar keys, parsing integers",
      raw: { ...base, listen: { port: 9000 } },
      env: {
        DOCKHAND_LISTEN_HOST: "127.0.0.1", DOCKHAND_LISTEN_PORT: "18080", DOCKHAND_PUBLIC_URL: "http://127.0.0.1:18080/",
        DOCKHAND_EXECUTOR: "local", DOCKHAND_NAMESPACE: "builds", DOCKHAND_SIGNING_KEY: "s".repeat(40),
        DOCKHAND_GITHUB_APP_ID: "123", DOCKHAND_GITHUB_APP_PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----",
      },
      expected: {
        listen: { host: "127.0.0.1", port: 18080 }, publicUrl: "http://127.0.0.1:18080", executor: "local",
        kubernetes: expect.objectContaining({ namespace: "builds" }), contexts: expect.objectContaining({ signingKey: "s".repeat(40) }),
        github: {
          apiUrl: "https://api.github.com",
          app: { appId: 123, privateKey: "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----" },
        },
      },
    },
    {
      name: "metrics on a port of its own, from the environment",
      raw: base,
      env: { DOCKHAND_METRICS_PORT: "9090" },
      expected: { listen: expect.objectContaining({ port: 8080 }), metrics: { port: 9090 } },
    },
    {
      name: "empty env variables count as unset",
      raw: base,
      env: { DOCKHAND_GITHUB_TOKEN: "", DOCKHAND_NAMESPACE: "" },
      expected: { kubernetes: expect.objectContaining({ namespace: "dockhand" }), github: { apiUrl: "https://api.github.com" } },
    },
    {
      name: "a full pool and BuildKit setup",
      raw: {
        ...base,
        dockerPool: {
          pools: {
            ltsc2022: { nodeSelector: { agentpool: "win22" }, tolerations: [{ key: "os", operator: "Equal", value: "windows", effect: "NoSchedule" }] },
            ltsc2025: { nodeSelector: { "node.kubernetes.io/windows-build": "10.0.26100" } },
          },
          images: { ltsc2022: "myregistry.azurecr.io/mirror/docker:29.8.2-windowsservercore-ltsc2022@sha256:" + "a".repeat(64) },
          maxBuildsPerNode: 1,
        },
        buildkit: { address: "tcp://127.0.0.1:11234", tlsSecret: "buildkit-client-tls", cacheRepository: "127.0.0.1:15000/cache" },
        registry: { secretName: "registry-push", insecureRegistries: ["127.0.0.1:15000"] },
      },
      env: {},
      expected: {
        dockerPool: expect.objectContaining({
          pools: {
            ltsc2022: { nodeSelector: { agentpool: "win22" }, tolerations: [{ key: "os", operator: "Equal", value: "windows", effect: "NoSchedule" }] },
            ltsc2025: { nodeSelector: { "node.kubernetes.io/windows-build": "10.0.26100" }, tolerations: [] },
          },
          maxBuildsPerNode: 1,
        }),
        buildkit: expect.objectContaining({ address: "tcp://127.0.0.1:11234", tlsSecret: "buildkit-client-tls", cacheRepository: "127.0.0.1:15000/cache" }),
        registry: { secretName: "registry-push", insecureRegistries: ["127.0.0.1:15000"] },
      },
    },
  ])("$name", ({ raw, env, expected }) => {
    expect(resolveConfig(raw, env, "dockhand.yaml")).toMatchObject(expected);
  });

  it.each<{ name: string; raw: unknown; env?: Record<string, string>; problems: ConfigProblem[] }>([
    {
      name: "a missing signing key and public URL",
      raw: {},
      problems: [
        { key: "publicUrl", message: "is required (set it in the config file or DOCKHAND_PUBLIC_URL)" },
        { key: "contexts.signingKey", message: "is required (set it in the config file or DOCKHAND_SIGNING_KEY)" },
      ],
    },
    {
      name: "a short signing key, without showing it",
      raw: { ...base, contexts: { signingKey: "hunter2" } },
      problems: [{ key: "contexts.signingKey", message: "is shorter than 32 characters" }],
    },
    {
      name: "a bad port from the environment, naming the variable",
      raw: base,
      env: { DOCKHAND_LISTEN_PORT: "http" },
      problems: [{ key: "listen.port (from DOCKHAND_LISTEN_PORT)", message: '"http" must be an integer' }],
    },
    {
      name: "a port out of range",
      raw: { ...base, listen: { port: 70000 } },
      problems: [{ key: "listen.port", message: "70000 must be at most 65535" }],
    },
    {
      name: "metrics on the API's own port",
      raw: { ...base, listen: { port: 9000 }, metrics: { port: 9000 } },
      problems: [{ key: "metrics.port", message: "is 9000, the API's own port (listen.port): pick another port, or unset metrics.port to serve /metrics on the API's port" }],
    },
    {
      name: "metrics on a port out of range, from the environment",
      raw: base,
      env: { DOCKHAND_METRICS_PORT: "0" },
      problems: [{ key: "metrics.port (from DOCKHAND_METRICS_PORT)", message: "0 must be at least 1" }],
    },
    {
      name: "a shutdown grace past any pod's termination grace",
      raw: { ...base, listen: { shutdownGraceSeconds: 600 } },
      problems: [{ key: "listen.shutdownGraceSeconds", message: "600 must be at most 300" }],
    },
    {
      name: "an unknown executor",
      raw: { ...base, executor: "k8s" },
      problems: [{ key: "executor", message: '"k8s" must be one of "auto", "kubernetes", "local"' }],
    },
    {
      name: "a misspelled key",
      raw: { ...base, kubernetes: { namespce: "x" } },
      problems: [{ key: "kubernetes.namespce", message: "is not a known key (known here: namespace, kubeconfig, leaderElection)" }],
    },
    {
      name: "an unknown top-level key",
      raw: { ...base, buildKit: {} },
      problems: [{
        key: "buildKit",
        message: "is not a known key (known here: listen, metrics, publicUrl, executor, kubernetes, contexts, dockerPool, buildkit, buildkitWindows, registry, limits, github, auth, webhooks, policy, statusContextPrefix, local)",
      }],
    },
    {
      name: "a namespace that is not a DNS label",
      raw: { ...base, kubernetes: { namespace: "Build_NS" } },
      problems: [{ key: "kubernetes.namespace", message: '"Build_NS" is not a namespace name (lowercase letters, digits and -, at most 63)' }],
    },
    {
      name: "a public URL with a query",
      raw: { ...base, publicUrl: "http://x/?a=1" },
      problems: [{ key: "publicUrl", message: '"http://x/?a=1" is not an http(s) URL without query or fragment' }],
    },
    {
      name: "a bad node selector label value",
      raw: { ...base, dockerPool: { pools: { ltsc2022: { nodeSelector: { agentpool: "win 1" } } } } },
      problems: [{ key: "dockerPool.pools.ltsc2022.nodeSelector.agentpool", message: '"win 1" is not a label value (at most 63 letters, digits, -, _ or .)' }],
    },
    {
      name: "a Windows version named with no selector",
      raw: { ...base, dockerPool: { pools: { ltsc2025: {} } } },
      problems: [{ key: "dockerPool.pools.ltsc2025.nodeSelector", message: "is required" }],
    },
    {
      name: "a Windows version with an empty selector",
      raw: { ...base, dockerPool: { pools: { ltsc2025: { nodeSelector: {} } } } },
      problems: [{ key: "dockerPool.pools.ltsc2025.nodeSelector", message: "must name at least one label of the pool (e.g. agentpool: win25, or node.kubernetes.io/windows-build alone when the cluster has one pool of that version)" }],
    },
    {
      name: "a selector whose Windows build is another version's",
      raw: { ...base, dockerPool: { pools: { ltsc2025: { nodeSelector: { "node.kubernetes.io/windows-build": "10.0.20348" } } } } },
      problems: [{ key: 'dockerPool.pools.ltsc2025.nodeSelector["node.kubernetes.io/windows-build"]', message: 'is "10.0.20348", but ltsc2025 nodes are 10.0.26100: remove it (dockhand sets it) or fix it' }],
    },
    {
      name: "the old one-pool selector",
      raw: { ...base, dockerPool: { nodeSelector: { agentpool: "win1" } } },
      problems: [{ key: "dockerPool.nodeSelector", message: "moved: each Windows version has its own pool now; set dockerPool.pools.<version>.nodeSelector (e.g. dockerPool.pools.ltsc2022.nodeSelector: {agentpool: win22})" }],
    },
    {
      name: "CLI images of an unknown, an unpinned and another release's version",
      raw: { ...base, dockerPool: { images: { ltsc2019: "docker:30-windowsservercore-1809", ltsc2022: "docker:windowsservercore-ltsc2022", ltsc2025: "docker:29-windowsservercore-ltsc2022" } } },
      problems: [
        { key: "dockerPool.images.ltsc2019", message: '"docker:30-windowsservercore-1809" names docker 30, which dockhand does not know: use docker 25–29 (the dockerd pool runs Engine 29.8.2; "docker:29-windowsservercore-1809" matches it)' },
        { key: "dockerPool.images.ltsc2022", message: '"docker:windowsservercore-ltsc2022" names no docker CLI version: use a tag like "docker:29-windowsservercore-ltsc2022" (major-pinned, for this Windows release), so the CLI cannot drift away from the node\'s dockerd' },
        { key: "dockerPool.images.ltsc2025", message: '"docker:29-windowsservercore-ltsc2022" is the windowsservercore-ltsc2022 variant, which does not run on ltsc2025 nodes: use the windowsservercore-ltsc2025 variant, e.g. "docker:29-windowsservercore-ltsc2025"' },
      ],
    },
    {
      name: "the prune size, which moved to the dockerd DaemonSets' node-gc container",
      raw: { ...base, dockerPool: { keepStorage: "40Gi" } },
      problems: [{ key: "dockerPool.keepStorage", message: "moved: the node's disk is kept by the dockerd DaemonSets' node-gc container (dockhand-node-gc --keep-storage=40Gi in deploy/base/dockerd-daemonsets.yaml), since a build's own last step cannot clean up after a failed or cancelled build; remove the key and set --keep-storage there" }],
    },
    {
      name: "a Lease renew deadline not shorter than the Lease, and a retry not shorter than the deadline",
      raw: { ...base, kubernetes: { leaderElection: { leaseDurationSeconds: 5, renewDeadlineSeconds: 5, retryPeriodSeconds: 5 } } },
      problems: [
        { key: "kubernetes.leaderElection.renewDeadlineSeconds", message: "is 5, not less than leaseDurationSeconds (5): a leader that cannot renew would still reconcile after another took over" },
        { key: "kubernetes.leaderElection.retryPeriodSeconds", message: "is 5, not less than renewDeadlineSeconds (5): the leader would give up before its first retry" },
      ],
    },
    {
      name: "no per-node limit",
      raw: { ...base, dockerPool: { maxBuildsPerNode: 0 } },
      problems: [{ key: "dockerPool.maxBuildsPerNode", message: "0 must be at least 1" }],
    },
    {
      name: "a toleration with an unknown effect",
      raw: { ...base, buildkit: { tolerations: [{ key: "a", effect: "NoRun" }] } },
      problems: [{ key: "buildkit.tolerations[0].effect", message: '"NoRun" must be one of "NoSchedule", "PreferNoSchedule", "NoExecute"' }],
    },
    {
      name: "a bad quantity",
      raw: { ...base, limits: { resources: { limits: { memory: "1GB" } } } },
      problems: [{ key: "limits.resources.limits.memory", message: '"1GB" is not a quantity like 500m, 2 or 1Gi' }],
    },
    {
      name: "a BuildKit address without scheme",
      raw: { ...base, buildkit: { address: "buildkitd:1234" } },
      problems: [{ key: "buildkit.address", message: '"buildkitd:1234" is not an address like tcp://host:1234 or unix:///run/buildkit/buildkitd.sock' }],
    },
    {
      name: "a cache repository with a tag",
      raw: { ...base, buildkit: { cacheRepository: "ghcr.io/o/cache:x" } },
      problems: [{ key: "buildkit.cacheRepository", message: '"ghcr.io/o/cache:x" names a tag or digest; give the repository only (dockhand picks the tags)' }],
    },
    {
      name: "a docker image with upper case",
      raw: { ...base, dockerPool: { images: { ltsc2022: "Docker:cli" } } },
      problems: [{ key: "dockerPool.images.ltsc2022", message: '"Docker:cli" has a repository name that is not lowercase' }],
    },
    {
      name: "BuildKit on a Windows version without a pool",
      raw: { ...base, buildkitWindows: { versions: ["ltsc2025"] } },
      problems: [{ key: "buildkitWindows.versions[0]", message: "is ltsc2025, which has no dockerPool.pools.ltsc2025: BuildKit runs on that pool's nodes; add the pool, or remove ltsc2025 here" }],
    },
    {
      name: "BuildKit on a Windows version built Hyper-V isolated",
      raw: {
        ...base,
        dockerPool: { pools: { ltsc2019: { nodeSelector: { agentpool: "win19" }, isolation: "hyperv" }, ltsc2022: { nodeSelector: { agentpool: "win22" } } } },
        buildkitWindows: { versions: ["ltsc2019"] },
      },
      problems: [{ key: "buildkitWindows.versions[0]", message: "is ltsc2019, whose pool is isolation hyperv: BuildKit has no per-build Hyper-V isolation, so ltsc2019 builds stay on the dockerd pool of a newer version; remove ltsc2019 here" }],
    },
    {
      name: "a Windows version BuildKit does not know",
      raw: { ...base, buildkitWindows: { versions: ["ltsc2016"] } },
      problems: [{ key: "buildkitWindows.versions[0]", message: expect.stringContaining('"ltsc2016"') }],
    },
    {
      name: "a buildctl image that is no reference",
      raw: { ...base, buildkitWindows: { images: { ltsc2022: "buildctl windows" } } },
      problems: [{ key: "buildkitWindows.images.ltsc2022", message: expect.stringContaining('"buildctl windows"') }],
    },
    {
      name: "both a token and an app",
      raw: { ...base, github: { token: "t", app: { appId: 1, privateKey: "-----BEGIN PRIVATE KEY-----\nx" } } },
      problems: [{ key: "github", message: "sets both token and app; keep one (the app is preferred: its tokens expire and are scoped)" }],
    },
    {
      name: "an app key that is not PEM, without showing it",
      raw: { ...base, github: { app: { appId: 1, privateKey: "secret-bytes" } } },
      problems: [{ key: "github.app.privateKey", message: "is not a PEM private key (-----BEGIN RSA PRIVATE KEY----- …)" }],
    },
    {
      name: "an app without an ID",
      raw: { ...base, github: { app: { privateKey: "-----BEGIN PRIVATE KEY-----" } } },
      problems: [{ key: "github.app.appId", message: "is required (set it in the config file or DOCKHAND_GITHUB_APP_ID)" }],
    },
    {
      name: "a list at the top level",
      raw: [],
      problems: [{ key: "(top level)", message: "must be a mapping of keys to values" }],
    },
    {
      name: "auth disabled on a dispatcher that listens beyond loopback",
      raw: { ...base, auth: { disabled: true } },
      problems: [{ key: "auth.disabled", message: 'is true but listen.host is "0.0.0.0"; an unauthenticated dispatcher may only listen on 127.0.0.1, ::1 or localhost' }],
    },
    {
      name: "auth disabled from the environment, parsed as a boolean",
      raw: base,
      env: { DOCKHAND_AUTH_DISABLED: "true" },
      problems: [{ key: "auth.disabled", message: 'is true but listen.host is "0.0.0.0"; an unauthenticated dispatcher may only listen on 127.0.0.1, ::1 or localhost' }],
    },
    {
      name: "a short shared secret, without showing it",
      raw: { ...base, auth: { sharedSecrets: [{ name: "ci", secret: "hunter2", repositories: ["octo-org/*"] }] } },
      problems: [{ key: "auth.sharedSecrets[0].secret", message: "is shorter than 32 characters" }],
    },
    {
      name: "two shared secrets with one name",
      raw: {
        ...base,
        auth: {
          sharedSecrets: [
            { name: "ci", secret: "a".repeat(32), repositories: ["octo-org/*"] },
            { name: "ci", secret: "b".repeat(32), repositories: ["*"] },
          ],
        },
      },
      problems: [{ key: "auth.sharedSecrets[1].name", message: '"ci" is used twice; give each secret its own name' }],
    },
    {
      name: "a repository pattern with a wildcard owner",
      raw: { ...base, policy: { repositories: [{ repository: "*/app" }] } },
      problems: [{ key: "policy.repositories[0].repository", message: '"*/app" is not a repository pattern: "owner/name", "owner/*" or "*"' }],
    },
    {
      name: "an image prefix without a registry host",
      raw: { ...base, policy: { repositories: [{ repository: "octo-org/*", imagePrefixes: ["octo-org/app"] }] } },
      problems: [{ key: "policy.repositories[0].imagePrefixes[0]", message: '"octo-org/app" does not start with a registry host (e.g. "ghcr.io/octo-org", "docker.io/octo")' }],
    },
    {
      name: "an image prefix with a tag",
      raw: { ...base, policy: { repositories: [{ repository: "octo-org/*", imagePrefixes: ["ghcr.io/octo-org/app:1"] }] } },
      problems: [{ key: "policy.repositories[0].imagePrefixes[0]", message: '"ghcr.io/octo-org/app:1" names a tag or digest; give a registry/path prefix, e.g. ghcr.io/octo-org' }],
    },
    {
      name: "a misspelled policy field",
      raw: { ...base, policy: { repositories: [{ repository: "octo-org/*", dockerpool: {} }] } },
      problems: [{ key: "policy.repositories[0].dockerpool", message: "is not a known key (known here: repository, dockerPool, registrySecrets, imagePrefixes, maxConcurrentBuilds, forkPullRequests, cancelSupersededBuilds)" }],
    },
  ])("rejects $name", ({ raw, env, problems }) => {
    expect(problemsOf(raw, env)).toEqual(problems);
  });

  it("never puts a shared or webhook secret in the error message", () => {
    const secret = "s3cr3t-" + "y".repeat(5);
    try {
      resolveConfig({ ...base, auth: { sharedSecrets: [{ name: "ci", secret, repositories: ["nope"] }] }, webhooks: { secret } }, {}, "f");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it("never puts a secret in the error message", () => {
    const secret = "ghp_" + "x".repeat(10);
    try {
      resolveConfig({ ...base, contexts: { signingKey: secret }, github: { app: { appId: "x", privateKey: secret } } }, {}, "f");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain(secret);
    }
  });
});

describe("parseConfigText", () => {
  it.each([
    { text: "", expected: {} },
    { text: "publicUrl: http://x\nlisten:\n  port: 1\n", expected: { publicUrl: "http://x", listen: { port: 1 } } },
    { text: '{"executor": "local"}', expected: { executor: "local" } },
  ])("parses $text", ({ text, expected }) => {
    expect(parseConfigText(text, "f.yaml")).toEqual(expected);
  });

  it("names the line of a YAML syntax error", () => {
    expect(() => parseConfigText("listen:\n  port: [1\n", "f.yaml")).toThrow(
      "invalid dockhand config (f.yaml):\n  line 3, column 1: is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    );
  });
});

describe("describeConfig", () => {
  it("documents every leaf key, with env variables and secrets marked", () => {
    const rows = describeConfig();
    expect(rows.every((row) => row.description.length > 0)).toBe(true);
    expect(rows.find((row) => row.key === "contexts.signingKey")).toEqual({
      key: "contexts.signingKey", type: "string", required: true, default: undefined, secret: true, env: "DOCKHAND_SIGNING_KEY",
      description: "HMAC key for signed context download URLs; at least 32 characters (openssl rand -hex 32).",
    });
    expect(rows.find((row) => row.key === "executor")).toMatchObject({ type: '"auto" | "kubernetes" | "local"', default: '"auto"', required: false });
    expect(rows.find((row) => row.key === "limits.resources.requests")).toMatchObject({ type: "object", default: '{"cpu":"100m","memory":"128Mi"}' });
    expect(rows.find((row) => row.key === "github.app.privateKey")).toMatchObject({ required: false, secret: true });
    expect(rows.map((row) => row.key)).toContain("dockerPool.images.ltsc2025");
  });
});
