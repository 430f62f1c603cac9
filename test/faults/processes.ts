// The processes a fault scenario breaks: the dispatcher, run as its own
// process exactly as `npm start` runs it (as test/integration/dispatcher-restart
// does), and the bed's own kube-apiserver and registry, stopped and started
// again with exactly the command line, environment and log file test/bed/up
// gave them.
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BedEnv } from "../bed/bed-env.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where a scenario's dispatcher logs go (one file per process started). */
export function logDir(scenario: string): string {
  return mkdtempSync(join(tmpdir(), `dh-faults-${scenario}-`));
}

/**
 * One dispatcher process. start() waits for /readyz; kill() is SIGKILL:
 * no shutdown, no Lease release, exactly what a crash or an OOM kill leaves.
 */
export class DispatcherProcess {
  child: ChildProcess | undefined;
  starts = 0;
  readonly logs: string[] = [];

  constructor(
    readonly name: string,
    private readonly configFile: string,
    readonly port: number,
    private readonly dir: string,
    /** POD_NAME: the Lease identity. The same name again is a restarted container of the same pod, which takes its Lease back at once. */
    private readonly podName: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(timeoutMs = 60_000): Promise<string> {
    const log = join(this.dir, `${this.name}-${++this.starts}.log`);
    this.logs.push(log);
    const fd = openSync(log, "a");
    const child = spawn(process.execPath, ["--import", "tsx", "dispatcher/main.ts"], {
      cwd: repoRoot,
      env: { ...process.env, DOCKHAND_CONFIG: this.configFile, POD_NAME: this.podName, DOCKHAND_LOG_LEVEL: process.env.DOCKHAND_TEST_LOG ?? "info" },
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    this.child = child;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await fetch(`${this.url}/readyz`).then((r) => r.ok, () => false);
      if (ok) return this.url;
      if (child.exitCode !== null) throw new Error(`dispatcher ${this.name} exited with ${child.exitCode} while starting (log: ${log})`);
      if (Date.now() > deadline) throw new Error(`dispatcher ${this.name} not ready in ${timeoutMs / 1000} s (log: ${log})`);
      await sleep(100);
    }
  }

  /** SIGKILL, now; resolves once the process is gone. Safe to call from a stand-in callback (the signal goes out synchronously). */
  kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    return exited;
  }

  /** How many lines of its logs match. */
  countInLogs(pattern: RegExp): number {
    let n = 0;
    for (const log of this.logs) {
      try {
        n += readFileSync(log, "utf8").split("\n").filter((line) => pattern.test(line)).length;
      } catch {
        // not written yet
      }
    }
    return n;
  }
}

/** A component test/bed/up started: its pid file, and how to tell it answers. */
interface BedComponent {
  name: "apiserver" | "registry";
  ready: () => Promise<boolean>;
}

export const bedApiServer = (env: BedEnv): BedComponent => ({
  name: "apiserver",
  // Anonymous /readyz is what test/bed/up waits on too (curl -k); the bed's CA is self-made.
  ready: () =>
    new Promise((resolve) => {
      const req = request({ host: "127.0.0.1", port: Number(new URL(apiServerUrl(env)).port), path: "/readyz", rejectUnauthorized: false, timeout: 2_000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    }),
});

export const bedRegistry = (env: BedEnv): BedComponent => ({
  name: "registry",
  ready: () => fetch(`http://${env.REGISTRY}/v2/`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false),
});

function apiServerUrl(env: BedEnv): string {
  const kubeconfig = readFileSync(env.KUBECONFIG, "utf8");
  return /server:\s*(\S+)/.exec(kubeconfig)?.[1] ?? "https://127.0.0.1:16443";
}

interface Stopped {
  exe: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  log: string;
}

/**
 * Stops one bed component: SIGTERM to its process group, as test/bed/down
 * does (SIGKILL after 10 s), or SIGKILL at once (a crash). Only the
 * component itself: etcd, the controllers, the nodes keep running. The
 * signal goes out before this returns (safe from a stand-in callback, to
 * land between two requests); `gone` resolves once the process has exited.
 */
export function stopBedComponent(env: BedEnv, component: BedComponent, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Stopped & { gone: Promise<void> } {
  const pidFile = join(env.BED_DIR, "run", `${component.name}.pid`);
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${pidFile} holds no pid`);
  const stopped: Stopped = {
    exe: readlinkSync(`/proc/${pid}/exe`),
    argv: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a, i, all) => a !== "" || i < all.length - 1),
    env: Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter((kv) => kv.includes("="))
        .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    ),
    cwd: readlinkSync(`/proc/${pid}/cwd`),
    log: join(env.BED_DIR, "logs", `${component.name}.log`),
  };
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
  };
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  send(signal);
  const gone = (async () => {
    const deadline = Date.now() + 10_000;
    while (alive() && Date.now() < deadline) await sleep(50);
    if (alive()) {
      send("SIGKILL");
      while (alive()) await sleep(50);
    }
  })();
  return { ...stopped, gone };
}

/**
 * Starts a stopped component again as test/bed/up does (its own session, so
 * test/bed/down reaches it; output appended to its log; its pid file
 * rewritten) and waits until it answers. Returns how long that took.
 */
export async function startBedComponent(env: BedEnv, component: BedComponent, stopped: Stopped, timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  const fd = openSync(stopped.log, "a");
  const child = spawn(stopped.exe, stopped.argv.slice(1), { argv0: stopped.argv[0], cwd: stopped.cwd, env: stopped.env, detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  child.unref();
  writeFileSync(join(env.BED_DIR, "run", `${component.name}.pid`), `${child.pid}\n`);
  const deadline = started + timeoutMs;
  for (;;) {
    if (await component.ready()) return Date.now() - started;
    if (child.exitCode !== null) throw new Error(`${component.name} exited with ${child.exitCode} when started again (log: ${stopped.log})`);
    if (Date.now() > deadline) {
      // Not left half-started next to the next attempt.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone
      }
      throw new Error(`${component.name} not ready ${timeoutMs / 1000} s after it was started again (log: ${stopped.log})`);
    }
    await sleep(200);
  }
}

export type StoppedComponent = ReturnType<typeof stopBedComponent>;

/**
 * After stopBedComponent: waits for `whileDown` (and at least downMs since
 * the stop), then always starts the component again, however whileDown
 * ends. Returns how long it was away (stop to answering again) and how much
 * of that was its own start.
 */
export async function bringBack(
  env: BedEnv,
  component: BedComponent,
  stopped: StoppedComponent,
  downMs: number,
  whileDown: () => Promise<void> = async () => undefined,
): Promise<{ downSeconds: number; startSeconds: number }> {
  const stoppedAt = Date.now();
  let startMs = 0;
  try {
    await stopped.gone;
    await Promise.all([sleep(downMs - (Date.now() - stoppedAt)), whileDown()]);
  } finally {
    startMs = await startBedComponent(env, component, stopped).catch(async (err) => {
      // One more try: the bed is shared, it must not be left without it.
      console.error(`[faults] ${component.name} did not come back (${(err as Error).message}); starting it once more`);
      return startBedComponent(env, component, stopped);
    });
  }
  return { downSeconds: (Date.now() - stoppedAt) / 1000, startSeconds: startMs / 1000 };
}

/** Stops a component (SIGTERM), runs `whileDown` (at least downMs), and always starts it again. */
export async function withBedComponentDown(env: BedEnv, component: BedComponent, downMs: number, whileDown?: () => Promise<void>): Promise<{ downSeconds: number; startSeconds: number }> {
  return bringBack(env, component, stopBedComponent(env, component), downMs, whileDown);
}
