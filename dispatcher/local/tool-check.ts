// The tools the local executor's steps run, checked at start (a missing
// docker CLI or buildctl stops start-up with what to install) and asked again
// by ready() (does the Docker daemon answer?). Their own CLIs, with the
// steps' environment, so the check sees what a step will see.

import { execFile } from "node:child_process";
import type { FieldLogger } from "../logging.js";
import { stepEnvironment } from "./local-steps.js";

/** The tools the steps need. buildctl is checked only when a BuildKit address is set. */
export async function checkTools(dockerHost: string, buildkitAddress: string | undefined, log: FieldLogger): Promise<void> {
  const docker = await dockerVersion(dockerHost);
  if (docker.missing) {
    throw new Error(`the local executor runs builds with the docker CLI, which is not on PATH (${docker.problem}); install it`);
  }
  if (docker.os === undefined) {
    log.warn({ dockerHost, problem: docker.problem }, "the Docker daemon does not answer; builds will fail until it does");
  }
  if (buildkitAddress !== undefined) {
    const buildctl = await run(["buildctl", "--version"], stepEnvironment("buildctl", dockerHost, process.env));
    if (buildctl.missing) {
      throw new Error(
        `local.buildkitAddress is ${buildkitAddress} but buildctl is not on PATH; install BuildKit's buildctl or unset local.buildkitAddress`,
      );
    }
  }
}

/** The Docker daemon's OS when it answers; otherwise whether the CLI is missing and the last line it printed. */
export async function dockerVersion(dockerHost: string): Promise<{ os?: string; missing: boolean; problem?: string }> {
  const result = await run(["docker", "version", "--format", "{{.Server.Os}}"], stepEnvironment("docker", dockerHost, process.env));
  const os = result.ok ? result.stdout.trim() : "";
  return os === "" ? { missing: result.missing, problem: result.problem } : { os, missing: false };
}

function run(argv: string[], env: Record<string, string>): Promise<{ ok: boolean; missing: boolean; stdout: string; problem?: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env, timeout: 10_000, windowsHide: true }, (err, stdout, stderr) => {
      if (!err) return resolve({ ok: true, missing: false, stdout });
      const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
      const problem = String(stderr).trim().split("\n").at(-1) || err.message;
      resolve({ ok: false, missing, stdout, problem });
    });
  });
}
