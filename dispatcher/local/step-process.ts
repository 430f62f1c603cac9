// One build step as a real process: argv executed directly (no shell, so no
// part of a request is ever parsed as a command line), output appended to the
// step's log file by the process itself, in its own process group so a cancel
// reaches whatever the CLI started (docker CLI plugins) and so a dispatcher
// that dies does not take half a build with it unnoticed.

import { spawn } from "node:child_process";
import { open, readFile } from "node:fs/promises";

export interface StepExit {
  /** Set when the process ran and exited. */
  exitCode?: number;
  signal?: NodeJS.Signals;
  /** Set when it could not be started at all (ENOENT for a missing binary, …). */
  spawnError?: Error;
}

export interface RunningStep {
  readonly pid: number;
  /** /proc start time (Linux), to recognise this process after a restart. */
  readonly startTime: string | undefined;
  readonly exited: Promise<StepExit>;
}

const groups = process.platform !== "win32";

/**
 * Starts argv with stdout and stderr appended to logFile. Resolves once the
 * process exists (or failed to start: then `exited` already holds why).
 */
export async function startStep(argv: readonly string[], env: Record<string, string>, logFile: string): Promise<RunningStep> {
  const log = await open(logFile, "a");
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      env,
      stdio: ["ignore", log.fd, log.fd],
      detached: groups,
      windowsHide: true,
    });
    const exited = new Promise<StepExit>((resolve) => {
      child.once("error", (spawnError) => resolve({ spawnError }));
      child.once("exit", (code, signal) => resolve({ exitCode: code ?? undefined, signal: signal ?? undefined }));
    });
    const started = await Promise.race([
      new Promise<boolean>((resolve) => child.once("spawn", () => resolve(true))),
      exited.then(() => false),
    ]);
    const pid = child.pid;
    if (!started || pid === undefined) return { pid: 0, startTime: undefined, exited };
    return { pid, startTime: await processStartTime(pid), exited };
  } finally {
    // The child holds its own copy of the descriptor.
    await log.close();
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), and the state letter. */
async function procStat(pid: number): Promise<{ state: string; startTime: string } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0]!, startTime: fields[19]! };
  } catch {
    return undefined;
  }
}

export async function processStartTime(pid: number): Promise<string | undefined> {
  return (await procStat(pid))?.startTime;
}

/** Whether the process recorded as (pid, startTime) still runs: not gone, not a zombie, not a reused pid. */
export async function isAlive(pid: number, startTime: string | undefined): Promise<boolean> {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = await procStat(pid);
  if (stat === undefined) return process.platform !== "linux";
  if (stat.state === "Z" || stat.state === "X") return false;
  return startTime === undefined || stat.startTime === startTime;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    if (groups) process.kill(-pid, name);
    else process.kill(pid, name);
  } catch (err) {
    // ESRCH: already gone. A group signal can also fail if the leader left its group.
    if (groups && (err as NodeJS.ErrnoException).code !== "ESRCH") {
      try {
        process.kill(pid, name);
      } catch {
        // gone
      }
    }
  }
}

export interface StopOptions {
  /** How long SIGTERM gets before SIGKILL. */
  graceMs: number;
  /** Resolves when the process is gone; for a process that is not ours, poll isAlive. */
  exited?: Promise<unknown>;
  startTime?: string;
}

/**
 * SIGTERM to the step's process group, SIGKILL after the grace period.
 * Resolves once the process is gone (docker CLI then also ends the daemon's
 * build: the daemon cancels a build whose client went away).
 */
export async function stopStep(pid: number, options: StopOptions): Promise<void> {
  if (pid <= 0) return;
  const gone = options.exited ?? waitUntilGone(pid, options.startTime);
  signal(pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), options.graceMs)));
  const first = await Promise.race([gone.then(() => "gone" as const), graceOver]);
  clearTimeout(timer);
  if (first === "gone") return;
  signal(pid, "SIGKILL");
  await gone;
}

async function waitUntilGone(pid: number, startTime: string | undefined): Promise<void> {
  while (await isAlive(pid, startTime)) await new Promise((resolve) => setTimeout(resolve, 100));
}
