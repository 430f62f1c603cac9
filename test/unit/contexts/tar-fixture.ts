import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import tar, { type Header } from "tar-stream";

export interface FixtureEntry {
  name: string;
  content?: string;
  type?: Header["type"];
  linkname?: string;
}

/** Builds a tar.gz in memory, as the action would upload it. */
export async function tarGz(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const entry of entries) {
    const type = entry.type ?? "file";
    if (type === "file") {
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: entry.name }, entry.content ?? "", (error) => (error ? reject(error) : resolve())),
      );
    } else {
      // Device numbers matter only to device entries (hostile-input cases).
      pack.entry({ name: entry.name, type, linkname: entry.linkname ?? "", devmajor: 1, devminor: 3 });
    }
  }
  pack.finalize();
  await collected;
  return gzipSync(Buffer.concat(chunks));
}

export function sha256Of(bytes: Buffer): `sha256:${string}` {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
