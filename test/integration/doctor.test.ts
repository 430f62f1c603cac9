// The doctor on the real bed: all green against a healthy deployment (the
// bed's dispatcher, deploy/base's RBAC, the shared dockerd pools, registry,
// BuildKit, the GitHub stand-in), and each check red, with its fix, when the
// deployment is broken in one way. Nothing shared is broken: each fault is
// a config change, or objects of this file's own namespace (an unready
// "dockerd" pod, a ServiceAccount with a verb missing, a registry front that
// demands a password).

import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { startDispatcher, type Dispatcher } from "../../dispatcher/dispatcher.js";
import type { CheckResult } from "../../dispatcher/doctor/check.js";
import { type CheckGroup, runDoctor } from "../../dispatcher/doctor/doctor.js";
import { dispatcherPermissions } from "../../dispatcher/doctor/rbac.js";
import { renderTable } from "../../dispatcher/doctor/report.js";
import { applyRbac, kubectl, render, repoRoot } from "../deploy/deployed.js";
import { type Bed, freePort, repository, setUpBed, windowsTolerations } from "./harness.js";

let bed: Bed;
let dispatcher: Dispatcher;
let port: number;
let serviceAccount: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

/** The config the bed's dispatcher runs with, plus what a real deployment sets and the harness leaves out. */
function rawConfig(): Record<string, any> {
  return { ...bed.rawConfig(port), webhooks: { secret: "doctor-webhook-secret-0123456789abcdef" } };
}

async function doctor(raw: Record<string, any>, only?: CheckGroup[], kc: KubeConfig = bed.k.kc, registry?: string): Promise<CheckResult[]> {
  const results = await runDoctor({
    config: resolveConfig(raw, {}, "doctor test"),
    kc,
    serviceAccount,
    repository,
    ...(registry ? { registry } : {}),
    probeTimeoutSeconds: 60,
    ...(only ? { only } : {}),
  });
  console.log(renderTable(results, 0));
  return results;
}

const row = (results: CheckResult[], name: string) => {
  const found = results.find((result) => result.name === name);
  if (!found) throw new Error(`no row ${name}: ${results.map((r) => r.name).join(", ")}`);
  return found;
};

/** Only ltsc2022's pool: the faults below are made on it alone. */
function ltsc2022Only(raw: Record<string, any>, pool: Record<string, unknown> = {}): Record<string, any> {
  return { ...raw, dockerPool: { ...raw.dockerPool, pools: { ltsc2022: { ...raw.dockerPool.pools.ltsc2022, ...pool } } } };
}

beforeAll(async () => {
  bed = await setUpBed("doctor");
  // deploy/base's ServiceAccount, Role and RoleBinding, as the doctor checks them.
  serviceAccount = applyRbac(render(join(repoRoot, "deploy/base")), bed.namespace);
  cleanups.push(() => kubectl(["-n", bed.env.DOCKERD_NAMESPACE ?? "dockhand-dockerd", "delete", "role,rolebinding", `dockhand-dockerd-reader-${bed.namespace}`, "--ignore-not-found"]));
  port = await freePort();
  dispatcher = await startDispatcher(resolveConfig(rawConfig(), {}, "doctor test"), { logger: pino({ level: process.env.DOCKHAND_TEST_LOG ?? "warn" }) });
});

afterAll(async () => {
  await dispatcher?.close();
  for (const cleanup of cleanups.reverse()) await cleanup();
  await bed?.close();
});

describe("doctor on a healthy bed", () => {
  it("passes every check, from the command line, and exits 0 (--output json)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "dh-doctor-")), "config.yaml");
    writeFileSync(file, stringify(rawConfig()));
    const started = Date.now();
    // Asynchronously: the dispatcher and the GitHub stand-in it asks live in this process.
    const run = await promisify(execFile)("npx", ["tsx", "dispatcher/doctor/main.ts", "--config", file, "--repository", repository, "--probe-timeout", "60", "--output", "json"], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: bed.env.KUBECONFIG },
      encoding: "utf8",
      timeout: 240_000,
    }).then((out) => ({ ...out, status: 0 }), (error: { stdout: string; stderr: string; code: number }) => ({ stdout: error.stdout, stderr: error.stderr, status: error.code }));
    const seconds = (Date.now() - started) / 1000;
    const report = JSON.parse(run.stdout) as { exitCode: number; checks: CheckResult[] };
    console.log(renderTable(report.checks, seconds * 1000));
    console.log(`[doctor] healthy bed: ${report.checks.length} checks in ${seconds.toFixed(1)} s (with tsx start-up)`);
    expect(report.checks.filter((check) => check.outcome !== "ok")).toEqual([]);
    expect(run.status).toBe(0);
    // Every group ran: config, RBAC, 3 pools × (nodes, dockerd, node-gc, docker CLI image, CLI ↔ dockerd, public URL), BuildKit's pool, BuildKit, registry, GitHub × 2.
    expect(report.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining([
        "config: loads", "rbac: what it needs", "rbac: nothing more",
        ...["ltsc2019", "ltsc2022", "ltsc2025"].flatMap((v) => [`pool ${v}: nodes`, `pool ${v}: dockerd`, `pool ${v}: node-gc`, `pool ${v}: docker CLI image`, `pool ${v}: CLI ↔ dockerd`, `pool ${v}: public URL`]),
        "buildkit pool: public URL", "buildkit: reachable", "registry: push and read back", "github: statuses", "github: webhook secret",
      ]),
    );
    expect(report.checks).toHaveLength(26);
    // It asked about deploy/base's ServiceAccount (impersonated: the bed's kubeconfig is an admin's), not its own admin rights.
    expect(row(report.checks, "rbac: what it needs").detail).toContain(`system:serviceaccount:${bed.namespace}:${serviceAccount}`);
    expect(row(report.checks, "pool ltsc2022: CLI ↔ dockerd").detail).toMatch(/CLI 29\.8\.2 \(API [\d.]+\) ↔ dockerd 20\.10\.[\w.+]+ \(API 1\.41\)/);
    expect(row(report.checks, "pool ltsc2022: nodes").detail).toContain("free space on dockerd's data root not checked");
  });

  it("exits 1 with the config's own error when the config does not load", () => {
    const file = join(mkdtempSync(join(tmpdir(), "dh-doctor-")), "config.yaml");
    writeFileSync(file, stringify({ ...rawConfig(), publicUrl: "not a url" }));
    const run = spawnSync("npx", ["tsx", "dispatcher/doctor/main.ts", "--config", file], { cwd: repoRoot, env: { ...process.env, KUBECONFIG: bed.env.KUBECONFIG }, encoding: "utf8", timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/config: loads\s+FAIL\s+invalid dockhand config/);
    expect(run.stdout).toContain("publicUrl");
  });

  it("runs as `dockhand doctor` too (the operator CLI), with the same checks and exit code", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "dh-doctor-")), "config.yaml");
    writeFileSync(file, stringify(rawConfig()));
    const run = await promisify(execFile)("npx", ["tsx", "dispatcher/cli/main.ts", "doctor", "--config", file, "--only", "registry,buildkit", "--output", "json"], {
      cwd: repoRoot,
      env: { ...process.env, KUBECONFIG: bed.env.KUBECONFIG },
      encoding: "utf8",
      timeout: 120_000,
    }).then((out) => ({ ...out, status: 0 }), (error: { stdout: string; code: number }) => ({ stdout: error.stdout, status: error.code }));
    const report = JSON.parse(run.stdout) as { exitCode: number; checks: CheckResult[] };
    expect(report.checks.map((check) => check.name)).toEqual(expect.arrayContaining([expect.stringMatching(/^registry/), expect.stringMatching(/^buildkit/)]));
    expect(report.checks.filter((check) => check.outcome !== "ok")).toEqual([]);
    expect(run.status).toBe(report.exitCode);
  }, 150_000);
});

describe("doctor turns each check red with its fix", () => {
  it("a dockerd pod that is not Ready", async () => {
    // A stand-in "dockerd" pod of this namespace's own on win-ltsc2022-0
    // whose readiness probe never succeeds; the config points
    // dockerPool.daemonNamespace here. The bed's real dockerd stays up.
    await bed.k.core.createNamespacedPod({
      namespace: bed.namespace,
      body: {
        metadata: { name: "dockerd-ltsc2022-unready", labels: { "app.kubernetes.io/name": "dockerd", "dockhand.dev/windows-version": "ltsc2022" } },
        spec: {
          nodeName: "win-ltsc2022-0",
          os: { name: "windows" },
          tolerations: windowsTolerations,
          containers: [{
            name: "dockerd",
            image: "docker:29-windowsservercore-ltsc2022",
            command: ["cmd", "/c", "sleep 600"],
            readinessProbe: { exec: { command: ["cmd", "/c", "exit 1"] }, periodSeconds: 1 },
          }],
        },
      },
    });
    await waitFor(async () => (await bed.k.core.readNamespacedPod({ namespace: bed.namespace, name: "dockerd-ltsc2022-unready" })).status?.phase === "Running");
    const raw = ltsc2022Only(rawConfig());
    const results = await doctor({ ...raw, dockerPool: { ...raw.dockerPool, daemonNamespace: bed.namespace } }, ["pools"]);
    const dockerd = row(results, "pool ltsc2022: dockerd");
    expect(dockerd.outcome).toBe("FAIL");
    expect(dockerd.detail).toContain("dockerd-ltsc2022-unready on win-ltsc2022-0 is not Ready");
    expect(dockerd.fix).toContain(`kubectl -n ${bed.namespace} describe pod dockerd-ltsc2022-unready`);
    expect(row(results, "pool ltsc2022: nodes").outcome).toBe("ok");
  });

  it("a pool whose tolerations miss its nodes' taint", async () => {
    const results = await doctor(ltsc2022Only(rawConfig(), { tolerations: [] }), ["pools", "probes"]);
    const nodes = row(results, "pool ltsc2022: nodes");
    expect(nodes.outcome).toBe("FAIL");
    expect(nodes.detail).toContain("win-ltsc2022-0 has node.kubernetes.io/os=windows:NoSchedule");
    expect(nodes.fix).toContain('add to dockerPool.pools.ltsc2022.tolerations (and to the dockerd-ltsc2022 DaemonSet\'s): {"key":"node.kubernetes.io/os","operator":"Equal","value":"windows","effect":"NoSchedule"}');
    // The probe pod, placed as a build would be, is refused by the real scheduler.
    const probe = row(results, "pool ltsc2022: CLI ↔ dockerd");
    expect(probe.outcome).toBe("FAIL");
    expect(probe.detail).toMatch(/unschedulable: .*untolerated taint/);
    expect(row(results, "pool ltsc2022: dockerd").outcome).toBe("ok");
  });

  it("a CLI image whose docker does not speak the node's dockerd API", async () => {
    const raw = ltsc2022Only(rawConfig());
    const results = await doctor({ ...raw, dockerPool: { ...raw.dockerPool, images: { ltsc2022: "docker:29.1.0-windowsservercore-ltsc2022" } } }, ["probes"]);
    const cli = row(results, "pool ltsc2022: CLI ↔ dockerd");
    expect(cli.outcome).toBe("FAIL");
    // docker 29.1.0 cannot negotiate down: the bed's dockerd (API 1.41) refuses its own version.
    expect(cli.detail).toMatch(/client version 1\.\d+ is too new\. Maximum supported API version is 1\.41/);
    expect(cli.fix).toContain("the node's dockerd speaks API 1.41, the CLI image docker:29.1.0-windowsservercore-ltsc2022 needs ≥ 1.44: set dockerPool.images.ltsc2022");
    // The same pod still fetched the public URL: one fault, one red row.
    expect(row(results, "pool ltsc2022: public URL").outcome).toBe("ok");
  });

  it("a publicUrl build pods cannot reach", async () => {
    const closed = await freePort();
    const results = await doctor({ ...ltsc2022Only(rawConfig()), publicUrl: `http://127.0.0.1:${closed}` }, ["probes"]);
    for (const name of ["pool ltsc2022: public URL", "buildkit pool: public URL"]) {
      const url = row(results, name);
      expect(url.outcome, name).toBe("FAIL");
      expect(url.detail).toContain(`could not fetch http://127.0.0.1:${closed}`);
      expect(url.fix).toContain("set publicUrl (DOCKHAND_PUBLIC_URL) to an address pods reach");
    }
    expect(row(results, "pool ltsc2022: CLI ↔ dockerd").outcome).toBe("ok");
  });

  it("a signing key that is not the dispatcher's", async () => {
    const raw = ltsc2022Only(rawConfig());
    const results = await doctor({ ...raw, contexts: { ...raw.contexts, signingKey: "not-the-dispatchers-key-0123456789abcdef" } }, ["probes"]);
    const url = row(results, "pool ltsc2022: public URL");
    expect(url.outcome).toBe("FAIL");
    expect(url.detail).toContain("refused the doctor's signature (HTTP 403)");
    expect(url.fix).toContain("run it with the dispatcher's own config and Secret");
  });

  it("push credentials the registry refuses (and accepts the right ones)", async () => {
    const front = await basicAuthFront("builder", "the-right-password");
    cleanups.push(() => new Promise((resolve) => front.server.close(resolve)));
    const secret = async (name: string, password: string) =>
      bed.k.core.createNamespacedSecret({
        namespace: bed.namespace,
        body: {
          metadata: { name },
          type: "kubernetes.io/dockerconfigjson",
          stringData: { ".dockerconfigjson": JSON.stringify({ auths: { [front.host]: { auth: Buffer.from(`builder:${password}`).toString("base64") } } }) },
        },
      });
    await secret("registry-wrong", "a-wrong-password");
    await secret("registry-right", "the-right-password");
    const raw = rawConfig();
    const withSecret = (secretName: string) => ({ ...raw, registry: { ...raw.registry, secretName, insecureRegistries: [front.host] } });

    const wrong = row(await doctor(withSecret("registry-wrong"), ["registry"], bed.k.kc, `${front.host}/doctor/probe`), "registry: push and read back");
    expect(wrong.outcome).toBe("FAIL");
    expect(wrong.detail).toContain(`${front.host} refused pull,push on doctor/probe for builder: HTTP 401`);
    expect(wrong.fix).toContain(`put working push credentials for ${front.host} into the Secret registry-wrong`);

    const right = row(await doctor(withSecret("registry-right"), ["registry"], bed.k.kc, `${front.host}/doctor/probe`), "registry: push and read back");
    expect(right.outcome).toBe("ok");
    expect(right.detail).toMatch(/pushed and read back a \d+-byte blob .* deleted it/);
  });

  it("a ServiceAccount with a verb missing, and one with a verb too many", async () => {
    // Its own ServiceAccount: deploy/base's Role without "delete" on Jobs, plus list on Secrets.
    const name = "doctor-crippled";
    const rules = render(join(repoRoot, "deploy/base")).find((m) => m.kind === "Role")!.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    const crippled = rules.map((rule) => (rule.resources.includes("jobs") ? { ...rule, verbs: rule.verbs.filter((verb) => verb !== "delete") } : rule));
    crippled.push({ apiGroups: [""], resources: ["secrets"], verbs: ["list"] });
    const applied = kubectl(["apply", "-n", bed.namespace, "-f", "-"], [
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name }, rules: crippled },
      { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects: [{ kind: "ServiceAccount", name, namespace: bed.namespace }] },
    ].map((m) => stringify(m)).join("---\n"));
    expect(applied.status, applied.stderr).toBe(0);
    const kubeconfig = join(mkdtempSync(join(tmpdir(), "dh-doctor-sa-")), "kubeconfig");
    const minted = spawnSync(join(bed.env.BED_BIN, "testcluster"), ["sa-kubeconfig", "--kubeconfig", bed.env.KUBECONFIG, "--namespace", bed.namespace, "--name", name, "--out", kubeconfig], { encoding: "utf8" });
    expect(minted.status, minted.stderr).toBe(0);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);

    const results = await doctor(rawConfig(), ["rbac", "pools"], kc);
    const needs = row(results, "rbac: what it needs");
    expect(needs.outcome).toBe("FAIL");
    expect(needs.detail).toContain(`system:serviceaccount:${bed.namespace}:${name} may not: delete jobs.batch in ${bed.namespace}`);
    expect(needs.detail).not.toContain("create jobs");
    expect(needs.fix).toContain('"delete" on jobs');
    const more = row(results, "rbac: nothing more");
    expect(more.outcome).toBe("FAIL");
    expect(more.detail).toContain(`list secrets in ${bed.namespace}`);
    // As a ServiceAccount it may not read Nodes: said so, not passed off as ok.
    expect(row(results, "pool ltsc2022: nodes").outcome).toBe("skip");
    expect(dispatcherPermissions.length).toBeGreaterThan(10);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The bed's registry behind HTTP Basic auth, as distribution's docs deploy it
 * behind nginx ("Restricting access"): wrong credentials get 401 and a Basic
 * challenge, right ones are forwarded with the Host header kept, so the
 * registry's upload Locations name this front.
 */
async function basicAuthFront(user: string, password: string): Promise<{ server: Server; host: string }> {
  const [upstreamHost, upstreamPort] = bed.env.REGISTRY.split(":");
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="dockhand-doctor-test"', "content-type": "application/json" });
      res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
      return;
    }
    const upstream = httpRequest({ host: upstreamHost, port: Number(upstreamPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  const frontPort = await freePort();
  await new Promise<void>((resolve) => server.listen(frontPort, "127.0.0.1", resolve));
  return { server, host: `127.0.0.1:${frontPort}` };
}
