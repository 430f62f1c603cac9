import { posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar, { type Extract } from "tar-stream";
import { normaliseContextPath, normaliseEntryName } from "./context-path.js";
import { ContextError } from "./errors.js";

export interface ReadTarFileOptions {
  /** Largest file returned; a larger entry is refused from its header, unread. */
  maxBytes: number;
  /** Names the archive in error messages, e.g. the short digest. */
  archiveLabel: string;
}

// A Dockerfile reached through a chain longer than this is almost certainly a loop.
type Entry = Extract extends AsyncIterable<infer E> ? E : never;

const maxLinkHops = 8;
const maxSuggestions = 5;

/**
 * Extracts one file from a tar.gz. `openArchive` is called once per pass: a
 * symlink or hard link to an entry seen earlier in the archive needs a second
 * pass, since the archive is streamed, never held in memory.
 */
export async function readFileFromTarGz(
  openArchive: () => Readable,
  pathInTar: string,
  options: ReadTarFileOptions,
): Promise<Buffer> {
  const requested = normaliseContextPath(pathInTar);
  let wanted = requested;
  for (let hop = 0; hop <= maxLinkHops; hop++) {
    const found = await scanFor(openArchive(), wanted, options);
    if (found.kind === "file") return found.data;
    if (found.kind === "missing") {
      const similar = found.similar.length > 0 ? `; similar: ${found.similar.join(", ")}` : "";
      const via = wanted === requested ? "" : ` (link target of ${JSON.stringify(requested)})`;
      throw new ContextError(
        "file-not-found",
        `${JSON.stringify(wanted)}${via} not found in context ${options.archiveLabel} (${found.fileCount} files${similar})`,
        "set file to the Dockerfile's path relative to the context root, and check .dockerignore does not exclude it",
      );
    }
    wanted = found.target;
  }
  throw new ContextError(
    "invalid-path",
    `${JSON.stringify(requested)} goes through more than ${maxLinkHops} links in context ${options.archiveLabel}`,
    "point file at the Dockerfile itself, not at a chain of symlinks",
  );
}

type ScanResult =
  | { kind: "file"; data: Buffer }
  | { kind: "link"; target: string }
  | { kind: "missing"; fileCount: number; similar: string[] };

async function scanFor(archive: Readable, wanted: string, options: ReadTarFileOptions): Promise<ScanResult> {
  const extract = tar.extract();
  // Once the entry is found the loop returns and tears the pipeline down; the
  // resulting premature-close rejection is expected and swallowed here.
  const piping = pipeline(archive, createGunzip(), extract).then(
    () => undefined,
    (error: unknown) => error,
  );
  const wantedBase = posix.basename(wanted).toLowerCase();
  const similar: string[] = [];
  let fileCount = 0;
  try {
    for await (const entry of extract) {
      const name = normaliseEntryName(entry.header.name);
      const type = entry.header.type ?? "file";
      if (name !== wanted) {
        if (type === "file" || type === "contiguous-file") {
          fileCount++;
          const base = posix.basename(name).toLowerCase();
          if (similar.length < maxSuggestions && (base === wantedBase || base.includes("dockerfile"))) similar.push(name);
        }
        entry.resume();
        continue;
      }
      if (type === "file" || type === "contiguous-file") return { kind: "file", data: await readEntry(entry, name, options) };
      if (type === "symlink" || type === "link") {
        entry.resume();
        return { kind: "link", target: linkTarget(name, type, entry.header.linkname ?? "", options) };
      }
      entry.resume();
      throw new ContextError(
        "invalid-path",
        `${JSON.stringify(wanted)} in context ${options.archiveLabel} is a ${type}, not a file`,
        "set file to the Dockerfile's path relative to the context root",
      );
    }
  } catch (error) {
    if (error instanceof ContextError) throw error;
    throw notAnArchive(options, error);
  } finally {
    extract.destroy();
    archive.destroy();
  }
  const pipeError = await piping;
  if (pipeError !== undefined) throw notAnArchive(options, pipeError);
  return { kind: "missing", fileCount, similar };
}

async function readEntry(entry: Entry, name: string, options: ReadTarFileOptions): Promise<Buffer> {
  const size = entry.header.size ?? 0;
  if (size > options.maxBytes) {
    entry.resume();
    throw new ContextError(
      "file-too-large",
      `${JSON.stringify(name)} in context ${options.archiveLabel} is ${size} bytes; the limit is ${options.maxBytes}`,
      "a Dockerfile this large is probably the wrong file; check file",
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function linkTarget(name: string, type: "symlink" | "link", linkname: string, options: ReadTarFileOptions): string {
  // A hard link names another archive entry; a symlink is relative to its own
  // directory, and an absolute one is taken relative to the context root, as
  // BuildKit and the docker builder both scope links to the context.
  const raw = type === "link" ? linkname : linkname.startsWith("/") ? linkname : posix.join(posix.dirname(name), linkname);
  const target = normaliseEntryName(raw);
  if (target === "." || target === ".." || target.startsWith("../")) {
    throw new ContextError(
      "invalid-path",
      `${JSON.stringify(name)} in context ${options.archiveLabel} links to ${JSON.stringify(linkname)}, outside the context`,
      "put the Dockerfile itself inside the context",
    );
  }
  return target;
}

function notAnArchive(options: ReadTarFileOptions, cause: unknown): ContextError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ContextError(
    "invalid-archive",
    `context ${options.archiveLabel} is not a readable tar.gz (${why})`,
    "upload the context as a gzip-compressed tar",
  );
}
