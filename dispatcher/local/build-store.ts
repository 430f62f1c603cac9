// The local executor's state on disk, so a restart loses nothing:
//
//   <stateDir>/executor.lock                   pid of the dispatcher using the directory
//   <stateDir>/builds/<buildId>/build.json     BuildRecord, replaced atomically on each change
//   <stateDir>/builds/<buildId>/<slug>/<step>.log          the step's output, appended as it comes
//   <stateDir>/builds/<buildId>/<slug>/buildctl-metadata.json   buildctl --metadata-file
//
// Only one dispatcher may use a state directory: a second one would take the
// first one's running builds for leftovers of a crash and end them.

import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Config } from "../config/schema.js";
import { type BuildRecord, parseBuildRecord } from "./build-record.js";
import { isAlive, processStartTime } from "./step-process.js";

/**
 * `<contexts.dir>/../local-builds`: next to the uploaded contexts, on the
 * volume a deployment already keeps. The config has no key of its own for it.
 */
export function defaultStateDir(config: Config): string {
  return join(dirname(resolve(config.contexts.dir)), "local-builds");
}

export class StateDirInUse extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(`${dir} is in use by another dispatcher (pid ${pid}); stop it or point contexts.dir elsewhere`);
  }
}

export class BuildStore {
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly dir: string) {}

  private buildsDir(): string {
    return join(this.dir, "builds");
  }

  buildDir(buildId: string): string {
    return join(this.buildsDir(), buildId);
  }

  logFile(buildId: string, slug: string, step: string): string {
    return join(this.buildDir(buildId), slug, `${step}.log`);
  }

  metadataFile(buildId: string, slug: string): string {
    return join(this.buildDir(buildId), slug, "buildctl-metadata.json");
  }

  private lockFile(): string {
    return join(this.dir, "executor.lock");
  }

  /** Claims the directory for this process; a lock left by a process that is gone is taken over. */
  async lock(): Promise<void> {
    // Records hold signed context URLs: readable by the dispatcher's user only.
    await mkdir(this.buildsDir(), { recursive: true, mode: 0o700 });
    const mine = `${process.pid} ${(await processStartTime(process.pid)) ?? ""}`;
    try {
      const [pidText, startTime] = (await readFile(this.lockFile(), "utf8")).trim().split(" ");
      const pid = Number(pidText);
      if (pid !== process.pid && (await isAlive(pid, startTime || undefined))) throw new StateDirInUse(this.dir, pid);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await writeFile(this.lockFile(), `${mine}\n`);
  }

  async unlock(): Promise<void> {
    await rm(this.lockFile(), { force: true });
  }

  async createBuildDirs(record: BuildRecord): Promise<void> {
    for (const platform of record.platforms) await mkdir(join(this.buildDir(record.id), platform.slug), { recursive: true });
  }

  /**
   * Writes the record as it is now. Writes of one build are queued, and each
   * replaces the file by rename, so a crash leaves the previous or the new
   * version, never half of one.
   */
  save(record: BuildRecord): Promise<void> {
    const text = `${JSON.stringify(record, null, 2)}\n`;
    const file = join(this.buildDir(record.id), "build.json");
    const write = async () => {
      const temporary = `${file}.tmp`;
      await writeFile(temporary, text);
      await rename(temporary, file);
    };
    const previous = this.writes.get(record.id) ?? Promise.resolve();
    const next = previous.then(write, write);
    this.writes.set(record.id, next);
    void next.finally(() => {
      if (this.writes.get(record.id) === next) this.writes.delete(record.id);
    }).catch(() => undefined);
    return next;
  }

  /** Every stored build; a record that cannot be read is passed to onError and skipped. */
  async loadAll(onError: (buildId: string, err: Error) => void): Promise<BuildRecord[]> {
    const records: BuildRecord[] = [];
    let entries: string[];
    try {
      entries = await readdir(this.buildsDir());
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return records;
      throw err;
    }
    for (const buildId of entries.sort()) {
      const file = join(this.buildDir(buildId), "build.json");
      try {
        records.push(parseBuildRecord(await readFile(file, "utf8"), file));
      } catch (err) {
        // A build directory whose record was never written: submit failed before it.
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        onError(buildId, err as Error);
      }
    }
    return records;
  }

  async remove(buildId: string): Promise<void> {
    await this.writes.get(buildId);
    await rm(this.buildDir(buildId), { recursive: true, force: true });
  }
}
