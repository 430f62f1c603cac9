// Where a build step finds the request's BuildKit secrets: files on this
// host for the step's lifetime only, since buildctl takes a secret from a
// file (`--secret=id=<id>,src=<path>`) and argv and build.json must name
// paths, never values.

import { mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Where a platform's build step finds its secrets: a directory only this
 * user can enter, one 0600 file per secret id, for buildctl's
 * `--secret=id=<id>,src=<dir>/<id>` (argv names paths, never values).
 */
export function secretsDirFor(buildId: string, slug: string): string {
  return join(tmpdir(), `dockhand-secrets-${buildId}-${slug}`);
}

export async function writeSecretFiles(dir: string, secrets: Readonly<Record<string, string>>): Promise<void> {
  // A directory left by a dispatcher that died mid-step is replaced, never reused: its mode is not ours to trust.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o700 });
  for (const [id, value] of Object.entries(secrets)) await writeFile(join(dir, id), value, { mode: 0o600, flag: "wx" });
}

/** The step has exited (or never started): its secrets leave the disk with it. */
export async function removeSecretFiles(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
