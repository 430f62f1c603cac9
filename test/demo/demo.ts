// `npm run demo`: the whole product in one go, on this machine. Brings up the
// test bed (a real Kubernetes control plane, dockerd, registry, BuildKit;
// emulated Windows nodes: test/README.md), runs the dispatcher as deploy/
// runs it (its ServiceAccount and RBAC, its ConfigMap's config adapted to
// the bed), then runs the bundled Action (dist/main.mjs) exactly as a runner
// does (INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) on the sample
// repository in test/demo/sample/: a Windows Dockerfile with RUN (dockerd
// pool) and a COPY-only one onto nanoserver (BuildKit). Prints the commit
// statuses GitHub would show (from the GitHub stand-in) and the digests.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { resolveConfig } from "../../dispatcher/config/validate.js";
import { startDispatcher } from "../../dispatcher/dispatcher.js";
import { bedEnv } from "../bed/bed-env.js";
import { freshNamespace, kubeClients } from "../bed/kube.js";
import { adaptToBed, applyRbac, configFromConfigMap, render, repoRoot, serviceAccountKubeconfig } from "../deploy/deployed.js";
import { startGitHubStandIn } from "../github-standin/github-standin.js";
import { freePort } from "../integration/harness.js";
import { readManifest } from "../bed/registry.js";

const repository = "octo-org/windows-app";
const sha = randomBytes(20).toString("hex");
const githubToken = "ghs_demo-workflow-token";
const sharedSecret = randomBytes(32).toString("hex");
const say = (line: string) => console.log(`\n== ${line}`);
// The committed bundle, as a workflow runs it; DOCKHAND_DEMO_ACTION points elsewhere (an unreleased build).
const actionBundle = process.env.DOCKHAND_DEMO_ACTION ?? join(repoRoot, "dist/main.mjs");

interface ActionRun {
  name: string;
  exitCode: number | null;
  outputs: Record<string, string>;
  summary: string;
}

/** GITHUB_OUTPUT as the runner reads it: `name<<delimiter` blocks or `name=value` lines. */
function readOutputs(file: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]!);
    if (heredoc) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) value.push(lines[i]!);
      outputs[heredoc[1]!] = value.join("\n");
    } else if (lines[i]!.includes("=")) {
      const eq = lines[i]!.indexOf("=");
      outputs[lines[i]!.slice(0, eq)] = lines[i]!.slice(eq + 1);
    }
  }
  return outputs;
}

/** node dist/main.mjs with the environment a runner gives a `uses:` step. */
async function runAction(name: string, inputs: Record<string, string>, dispatcherUrl: string): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), `dh-demo-${name}-`));
  const output = join(dir, "output");
  const summary = join(dir, "summary.md");
  const event = join(dir, "event.json");
  writeFileSync(output, "");
  writeFileSync(summary, "");
  writeFileSync(event, JSON.stringify({ ref: "refs/heads/main", after: sha, repository: { full_name: repository } }));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GITHUB_ACTIONS: "true",
    CI: "true",
    GITHUB_REPOSITORY: repository,
    GITHUB_SHA: sha,
    GITHUB_REF: "refs/heads/main",
    GITHUB_EVENT_NAME: "push",
    GITHUB_EVENT_PATH: event,
    GITHUB_RUN_ID: String(Date.now()),
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: "image",
    GITHUB_ACTION: name,
    GITHUB_WORKSPACE: join(repoRoot, "test/demo/sample"),
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    RUNNER_TEMP: dir,
  };
  // The runner's rule: INPUT_ + the name upper-cased, spaces as _, hyphens kept.
  for (const [key, value] of Object.entries({ "dispatcher-url": dispatcherUrl, ...inputs })) {
    env[`INPUT_${key.replace(/ /g, "_").toUpperCase()}`] = value;
  }
  say(`Action step "${name}": node dist/main.mjs`);
  const child = spawn(process.execPath, [actionBundle], { cwd: env.GITHUB_WORKSPACE, env, stdio: ["ignore", "inherit", "inherit"] });
  const exitCode = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { name, exitCode, outputs: readOutputs(output), summary: readFileSync(summary, "utf8") };
}

async function main(): Promise<void> {
  if (!existsSync(actionBundle)) {
    throw new Error(`${actionBundle} is missing: the bundled Action is built by \`npm run build\` (and committed)`);
  }
  say("test bed: test/bed/up (first run installs packages and builds the Go parts: minutes)");
  const up = spawnSync(join(repoRoot, "test/bed/up"), { stdio: "inherit" });
  if (up.status !== 0) throw new Error(`test/bed/up failed (exit ${up.status}); logs in .bed/logs/`);
  const bed = bedEnv();

  say("dispatcher: deploy/base's ServiceAccount, Role and config, in a fresh namespace");
  const k = kubeClients(bed.KUBECONFIG);
  const namespace = await freshNamespace(k.core, "dh-demo");
  // The registry Secret deploy/'s config names; the bed registry takes anonymous pushes.
  await k.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: "registry-push" },
      type: "kubernetes.io/dockerconfigjson",
      stringData: { ".dockerconfigjson": JSON.stringify({ auths: {} }) },
    },
  });
  const manifests = render("deploy/base");
  const serviceAccount = applyRbac(manifests, namespace);
  const kubeconfig = serviceAccountKubeconfig(namespace, serviceAccount);
  const github = await startGitHubStandIn({ tokens: [githubToken] });
  const port = await freePort();
  const config = adaptToBed(configFromConfigMap(manifests), {
    namespace,
    kubeconfig,
    port,
    contextsDir: mkdtempSync(join(tmpdir(), "dh-demo-contexts-")),
    githubUrl: github.url,
    githubToken,
    harness: {
      // The bed has no GitHub OIDC issuer: the Action signs with a shared secret (auth: secret).
      auth: { sharedSecrets: [{ name: "demo", secret: sharedSecret, repositories: [repository] }] },
      policy: { repositories: [{ repository, dockerPool: { refs: ["refs/heads/main"] }, imagePrefixes: [bed.REGISTRY] }] },
    },
  });
  const dispatcher = await startDispatcher(resolveConfig(config, {}, "deploy/base ConfigMap (adapted to the bed)"), {
    logger: pino({ level: process.env.DOCKHAND_LOG_LEVEL ?? "warn" }),
  });
  console.log(`dispatcher ${dispatcher.url}, namespace ${namespace}, ServiceAccount ${serviceAccount}`);

  try {
    const common = { auth: "secret", secret: sharedSecret, "github-token": githubToken, context: ".", push: "true", wait: "true" };
    const runs = [
      await runAction("windows-run", {
        ...common,
        file: "Dockerfile.windows",
        // Two builds of one commit for the same platform: distinct status contexts, or the second replaces the first on GitHub.
        "status-context": "dockhand-run",
        // Each Windows version on its own pool (agentpool win22 and win25 on the bed, as on AKS).
        platforms: "windows/amd64:ltsc2022,windows/amd64:ltsc2025",
        tags: `${bed.REGISTRY}/demo/windows-app:${sha.slice(0, 7)}`,
        // Emulated Windows nodes run a Linux dockerd: a Linux base (see the Dockerfile).
        "build-args": `BASE_IMAGE=${bed.LINUX_BASE_IMAGE}`,
      }, dispatcher.url),
      await runAction("nanoserver-copy", {
        ...common,
        file: "Dockerfile.nanoserver",
        "status-context": "dockhand-copy",
        // One step, three Windows versions: dockhand fills NANOSERVER_TAG (1809, ltsc2022, ltsc2025) per platform and pushes one index.
        platforms: "windows/amd64:ltsc2019,windows/amd64:ltsc2022,windows/amd64:ltsc2025",
        tags: `${bed.REGISTRY}/demo/nanoserver-app:${sha.slice(0, 7)}`,
        "build-args": `NANOSERVER_REPO=${bed.WINDOWS_BASE_IMAGE}`,
      }, dispatcher.url),
    ];
    // Final statuses due: windows-run's two platforms and its index; nanoserver-copy's three platforms and its index.
    const expectedFinals = 7;
    // Give the reconciler a moment to send the last statuses.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && github.statuses().filter((s) => s.state !== "pending").length < expectedFinals) {
      await new Promise((r) => setTimeout(r, 250));
    }

    say(`commit statuses on ${repository}@${sha.slice(0, 7)} (as GitHub received them)`);
    for (const s of github.statuses()) console.log(`  ${s.context.padEnd(32)} ${s.state.padEnd(8)} ${s.description ?? ""}`);
    say("results");
    for (const run of runs) {
      console.log(`  ${run.name.padEnd(16)} exit ${run.exitCode}  digest ${run.outputs.digest ?? "?"}`);
      for (const name of ["build-id", "digests", "images"]) if (run.outputs[name]) console.log(`      ${name}: ${run.outputs[name]}`);
    }
    const indexTag = sha.slice(0, 7);
    say(`image index ${bed.REGISTRY}/demo/nanoserver-app:${indexTag} (read back from the registry)`);
    const index = await readManifest(bed.REGISTRY, "demo/nanoserver-app", indexTag).catch((err: Error) => ({ digest: `unreadable: ${err.message}`, mediaType: "", body: { manifests: [] } }));
    console.log(`  ${index.mediaType} ${index.digest}`);
    for (const entry of index.body.manifests ?? []) {
      const platform = entry.platform ?? {};
      console.log(`  ${`${platform.os}/${platform.architecture} ${platform["os.version"] ?? ""}`.padEnd(32)} ${entry.digest}`);
    }
    const failed = runs.filter((r) => r.exitCode !== 0);
    const finals = github.statuses().filter((s) => s.state !== "pending");
    if (failed.length > 0 || finals.length < expectedFinals || finals.some((s) => s.state !== "success")) {
      throw new Error(`demo failed: ${failed.map((r) => r.name).join(", ") || "a status is not success"}`);
    }
    say("demo passed: a Windows RUN build on the ltsc2022 and ltsc2025 dockerd pools, and a COPY-only image for three Windows versions on BuildKit joined in one index, all reported to GitHub");
  } finally {
    await dispatcher.close();
    await github.close();
    await k.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
