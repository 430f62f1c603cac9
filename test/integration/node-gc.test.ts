// dockhand-node-gc (deploy/images/dockerd-hostprocess/node-gc), the dockerd
// pool nodes' disk keeper, against a real dockerd and the classic builder,
// which is all Windows dockerd has (issue 10, item 8). The bed's dockerd is
// shared with every other test, and a pass with a small --min-age would
// remove their builds' images, so this file starts a private dockerd of its
// own (Debian's, as the bed's) and pulls the bed's base into it.

import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bedEnv } from "../bed/bed-env.js";

const bed = bedEnv();
let dir: string;
let dockerd: ChildProcess | undefined;
let socket: string;
const base = "base:1";

function docker(...args: string[]): string {
  return execFileSync("docker", ["-H", `unix://${socket}`, ...args], { encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "0" }, timeout: 60_000 });
}

/** A classic build of a Dockerfile given on stdin (no context); the output when it fails. */
function build(dockerfile: string, tags: string[]): { ok: boolean; output: string } {
  const run = spawnSync("docker", ["-H", `unix://${socket}`, "build", "--force-rm", ...tags.map((t) => `--tag=${t}`), "-"], {
    input: dockerfile,
    encoding: "utf8",
    env: { ...process.env, DOCKER_BUILDKIT: "0" },
    timeout: 60_000,
  });
  return { ok: run.status === 0, output: run.stdout + run.stderr };
}

function gc(...flags: string[]) {
  const run = spawnSync(bed.NODE_GC_BIN!, [`--host=unix://${socket}`, "--once", ...flags], { encoding: "utf8", timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Every image (docker image ls -a): ID and its tags. */
function images(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of docker("image", "ls", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").split("\n").filter(Boolean)) {
    const [id, tag] = line.split(" ") as [string, string];
    out.set(id, [...(out.get(id) ?? []), ...(tag === "<none>:<none>" ? [] : [tag])]);
  }
  return out;
}
const tags = () => [...images().values()].flat().sort();
const idOf = (ref: string) => docker("image", "inspect", "--format", "{{.Id}}", ref).trim();

/** The images' disk use as dockerd counts it (system df's LayersSize), which node-gc compares with --keep-storage. */
function usage(): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ socketPath: socket, path: "/v1.41/system/df?type=image" }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve((JSON.parse(body) as { LayersSize: number }).LayersSize));
    })
      .on("error", reject)
      .end();
  });
}

beforeAll(async () => {
  if (!bed.NODE_GC_BIN || !existsSync(bed.NODE_GC_BIN)) throw new Error(`no NODE_GC_BIN in ${bed.BED_DIR}/env: rerun test/bed/up, which builds it`);
  // Short: a unix socket path has a length limit.
  dir = mkdtempSync("/tmp/dh-gc-");
  socket = join(dir, "d.sock");
  // Its own data, exec root (so its own supervised containerd) and
  // containerd namespaces, and no networking to set up on the host.
  const log = openSync(join(dir, "dockerd.log"), "a");
  dockerd = spawn(
    "dockerd",
    [
      `--host=unix://${socket}`,
      `--data-root=${dir}/data`,
      `--exec-root=${dir}/exec`,
      `--pidfile=${dir}/d.pid`,
      "--containerd-namespace=dockhand-node-gc",
      "--containerd-plugins-namespace=dockhand-node-gc-plugins",
      "--storage-driver=vfs",
      "--iptables=false",
      "--bridge=none",
      "--ip-forward=false",
      "--ip-masq=false",
    ],
    { stdio: ["ignore", log, log] },
  );
  closeSync(log);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (spawnSync("docker", ["-H", `unix://${socket}`, "version"], { timeout: 5_000 }).status === 0) break;
    if (dockerd.exitCode !== null || Date.now() > deadline) {
      const tail = readFileSync(join(dir, "dockerd.log"), "utf8").split("\n").slice(-15).join("\n");
      throw new Error(`the private dockerd ${dockerd.exitCode === null ? "did not answer within 30 s" : `exited ${dockerd.exitCode}`} on ${socket}; its log ends:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  docker("pull", bed.LINUX_BASE_IMAGE);
  docker("tag", bed.LINUX_BASE_IMAGE, base);
  docker("image", "rm", bed.LINUX_BASE_IMAGE);
}, 60_000);

afterAll(async () => {
  if (dockerd?.exitCode === null) {
    const exited = new Promise((r) => dockerd!.once("exit", r));
    dockerd.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("dockhand-node-gc on a real dockerd (classic builder)", () => {
  it("refuses bad flags at start-up, naming the flag, and removes nothing", () => {
    const before = tags();
    for (const [flag, message] of [
      ["--keep-storage=5Gi", "--keep-storage=5Gi is below --keep-storage-floor=10Gi: a Windows Server Core base image alone is about 5 GB on disk"],
      ["--keep-storage=lots", "--keep-storage=lots is not a size: write a quantity like 40Gi, 500Mi or 40G"],
      ["--min-age=soon", "--min-age=soon is not a duration: write one like 15m"],
      ["--bogus=1", "unknown flag --bogus=1: the flags are --host, --internal-repository, --interval, --keep-storage, --keep-storage-floor, --min-age, --once"],
    ] as const) {
      const run = gc(flag);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stdout).toBe("");
    }
    expect(tags()).toEqual(before);
  });

  it("removes a build's image by its internal tag with every other tag, and a failed build's dangling step image, once older than --min-age; keeps the base", () => {
    const built = build(`FROM ${base}\nRUN echo built > /built.txt\n`, ["dockhand.invalid/build/aaaaaaaaaaaa:linux-amd64", "registry.example/app:1"]);
    expect(built.ok, built.output).toBe(true);
    const builtId = idOf("dockhand.invalid/build/aaaaaaaaaaaa:linux-amd64");
    // A build that fails at its second RUN leaves the first RUN's image with
    // no tag and no child: dangling, the classic builder's cache.
    const failed = build(`FROM ${base}\nRUN echo step-one > /one.txt\nRUN exit 1\n`, ["dockhand.invalid/build/bbbbbbbbbbbb:linux-amd64"]);
    expect(failed.ok).toBe(false);
    const dangling = docker("image", "ls", "--no-trunc", "--filter=dangling=true", "--format", "{{.ID}}").split("\n").filter(Boolean);
    expect(dangling).toHaveLength(1);

    // Everything here is seconds old: the default --min-age (15m) keeps it all,
    // as it keeps the images of builds still running on a node.
    const young = gc();
    expect(young.status, young.stderr).toBe(0);
    expect(young.stdout).toContain("node-gc: removed 0 images (0 leftover, 0 dangling, 0 for size)");
    expect(images().has(builtId)).toBe(true);

    const run = gc("--min-age=0s", "--keep-storage=10Gi", "--keep-storage-floor=1Mi");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^removed ${builtId} \\(dockhand\\.invalid/build/aaaaaaaaaaaa:linux-amd64, registry\\.example/app:1\\), .*: leftover of a dockhand build$`, "m"));
    expect(run.stdout).toMatch(new RegExp(`^removed ${dangling[0]}, .*: dangling`, "m"));
    expect(run.stdout).toContain("node-gc: removed 2 images (1 leftover, 1 dangling, 0 for size)");
    const left = images();
    expect(left.has(builtId)).toBe(false);
    expect(left.has(dangling[0]!)).toBe(false);
    // With their untagged parents (the RUN steps), only the base is left.
    expect([...left.values()].flat()).toEqual([base]);
    expect(left.size).toBe(1);
  });

  it("over --keep-storage, removes the least recently used image first, not the largest, and stops once under", async () => {
    const first = build(`FROM ${base}\nRUN head -c 3000000 /dev/urandom > /a.bin\n`, ["first:1"]);
    expect(first.ok, first.output).toBe(true);
    // dockerd keeps times in seconds: a second apart, so the order is plain.
    await new Promise((r) => setTimeout(r, 1_100));
    docker("tag", base, "base:touched"); // tagging is a use: the base is younger than "first" now
    await new Promise((r) => setTimeout(r, 1_100));
    const second = build(`FROM ${base}\nRUN head -c 6000000 /dev/urandom > /b.bin\n`, ["second:1"]);
    expect(second.ok, second.output).toBe(true);

    const before = await usage();
    // Removing "first" (3 MB of its own) is enough; "second" (6 MB) is larger
    // but was used more recently, and the base has children.
    const keep = before - 1_500_000;
    const run = gc("--min-age=0s", `--keep-storage=${keep}`, "--keep-storage-floor=1");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^removed \S+ \(first:1\), .*: least recently used while over --keep-storage$/m);
    expect(run.stdout).toContain("node-gc: removed 1 images (0 leftover, 0 dangling, 1 for size)");
    expect(tags()).toEqual(["base:1", "base:touched", "second:1"]);
    const after = await usage();
    expect(after).toBeLessThanOrEqual(keep);
    expect(before - after).toBeGreaterThanOrEqual(3_000_000);
    expect(before - after).toBeLessThan(6_000_000);
  });

  it("never removes an image a container uses, and says why it cannot get under --keep-storage", () => {
    docker("create", "--name=holds-second", "second:1", "true");
    const run = gc("--min-age=0s", "--keep-storage=1", "--keep-storage-floor=1");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/node-gc: still \S+ over --keep-storage=1B and nothing more may go \(.*1 in use by a container.*\)/);
    expect(tags()).toContain("second:1");
    expect(docker("ps", "-a", "--format", "{{.Names}}").split("\n")).toContain("holds-second");
  });

  it("counts a build on a base as a use of the base: over --keep-storage, an unused newer image goes before the base every build starts from", async () => {
    // "other": an image of its own (no parent), made after the base was last tagged.
    await new Promise((r) => setTimeout(r, 1_100));
    docker("create", "--name=to-export", base, "true");
    const exported = spawnSync("docker", ["-H", `unix://${socket}`, "export", "to-export"], { timeout: 60_000, maxBuffer: 256 << 20 });
    expect(exported.status, String(exported.stderr)).toBe(0);
    docker("rm", "to-export");
    const imported = spawnSync("docker", ["-H", `unix://${socket}`, "import", "-", "other:1"], { input: exported.stdout, timeout: 60_000 });
    expect(imported.status, String(imported.stderr)).toBe(0);
    const otherSize = Number(docker("image", "inspect", "--format", "{{.Size}}", "other:1").trim());
    await new Promise((r) => setTimeout(r, 1_100));
    // A build on the base, after "other": dockerd records it only as the
    // built image's chain of parents, which node-gc removes in this very pass.
    const built = build(`FROM ${base}\nRUN echo on-the-base > /b.txt\n`, ["dockhand.invalid/build/cccccccccccc:linux-amd64"]);
    expect(built.ok, built.output).toBe(true);

    const before = await usage();
    const run = gc("--min-age=0s", `--keep-storage=${before - Math.floor(otherSize / 2)}`, "--keep-storage-floor=1");
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^removed \S+ \(dockhand\.invalid\/build\/cccccccccccc:linux-amd64\), .*: leftover of a dockhand build$/m);
    expect(run.stdout).toMatch(/^removed \S+ \(other:1\), .*: least recently used while over --keep-storage$/m);
    // By its tags alone the base is older than "other" and would be tried
    // first (and refused, as "second:1" is its child): it is never tried.
    expect(run.stdout).not.toContain(base);
    expect(tags()).toEqual(["base:1", "base:touched", "second:1"]);
  });
});
