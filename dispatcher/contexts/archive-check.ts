import { once } from "node:events";
import { posix } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tar, { type Header } from "tar-stream";
import { normaliseEntryName } from "./context-path.js";
import { ContextError } from "./errors.js";

// An uploaded context is unpacked by a builder on a build host: BuildKit, or
// the dockerd pool, where the pod is administrator of the Windows host. Each
// builder scopes extraction itself, but a context that tries to write outside
// its root, or unpacks to terabytes, is hostile or broken either way, so the
// dispatcher refuses it at upload, while it streams in, and stores nothing.

export interface ArchiveCheckOptions {
  /** Names the archive in error messages, e.g. the short digest. */
  archiveLabel: string;
  /** Limit on the uncompressed tar stream (headers and data): what stops a gzip bomb. */
  maxUnpackedBytes: number;
  /**
   * Entries whose content to keep (normalised name → true), read in the same
   * pass: the Dockerfiles planning reads per build request, so it never has
   * to unpack the stored archive again. Files larger than `maxKeptBytes` are
   * not kept.
   */
  keep?: (name: string) => boolean;
  maxKeptBytes?: number;
}

/** The first entry of a kept name: a file's content, or only its type (a link, a directory, a file too large to keep). */
export interface KeptEntry {
  type: string;
  content?: Buffer;
}

/** What is wrong with one entry, and what to do about it. */
export interface EntryProblem {
  problem: string;
  hint: string;
}

export interface EntryHeader {
  name: Header["name"];
  type?: Header["type"];
  linkname?: Header["linkname"];
}

// Symlink chains longer than this are loops or abuse (Linux allows 40 hops).
const maxLinkHops = 40;
const allowedTypes = new Set(["file", "contiguous-file", "directory", "symlink", "link"]);
const packHint = "pack the context with paths relative to its root (the dockhand Action does), without links that leave it";

/**
 * Why an entry may not be in a build context, or undefined when it may.
 * `symlinks` holds the symlinks seen earlier in the archive (entry name →
 * target), so a link through another link is resolved the way an unpacking
 * builder would, not just lexically.
 */
export function entryProblem(header: EntryHeader, symlinks: ReadonlyMap<string, string> = new Map()): EntryProblem | undefined {
  const name = header.name;
  const type = header.type ?? "file";
  const shown = JSON.stringify(name);
  const nameProblem = pathProblem(name);
  if (nameProblem) return { problem: `entry ${shown} ${nameProblem}`, hint: packHint };
  if (!allowedTypes.has(type)) {
    return { problem: `entry ${shown} is a ${type}; a build context holds only files, directories and links`, hint: "leave device files and FIFOs out of the context (.dockerignore)" };
  }
  if (type !== "symlink" && type !== "link") return undefined;

  const linkname = header.linkname ?? "";
  const what = type === "symlink" ? "symlink" : "hard link";
  const refuse = (why: string): EntryProblem => ({
    problem: `${what} ${shown} points to ${JSON.stringify(linkname)}, ${why}`,
    hint: `replace the link with the file it points to, or leave ${shown} out of the context (.dockerignore)`,
  });
  if (linkname === "") return refuse("an empty target");
  if (isAbsolute(linkname)) return refuse("an absolute path");
  // A hard link names another entry of the archive; a symlink is relative to its own directory.
  const from = type === "link" ? [] : segments(posix.dirname(normaliseSeparators(name)));
  const resolved = resolve(from, segments(normaliseSeparators(linkname)), symlinks);
  if (resolved === "loop") return refuse(`a chain of more than ${maxLinkHops} links`);
  if (resolved === "outside") return refuse("outside the context");
  return undefined;
}

/**
 * A pipeline stage that passes the compressed bytes through unchanged while
 * it gunzips and parses a copy, checking each entry with {@link entryProblem}
 * and counting unpacked bytes. An unsafe entry or too many unpacked bytes
 * fail the stage at once, so a bomb is not read to its end. An archive that is
 * merely unreadable (not gzip, not tar, cut short) fails only at the end, and
 * is reported by {@link problem} after the caller has checked the digest:
 * a truncated upload is better described as not matching its digest.
 */
export class ArchiveCheck extends Transform {
  /** Set when the bytes were not a readable tar.gz; read it after the stream ended. */
  problem: ContextError | undefined;
  /** The entries `keep` named, by normalised name, first occurrence only (what a reader of the archive finds first). */
  readonly kept = new Map<string, KeptEntry>();
  private unpacked = 0;
  // 64 KiB chunks (zlib's default is 16 KiB): a quarter of the stream calls for the same bytes.
  private readonly gunzip = createGunzip({ chunkSize: 64 * 1024 });
  private readonly inspected: Promise<void>;
  private inspecting = true;

  constructor(private readonly options: ArchiveCheckOptions) {
    super();
    this.inspected = this.inspect().then(
      () => undefined,
      (error: unknown) => {
        if (error instanceof ContextError && error.code !== "invalid-archive") {
          this.destroy(error);
        } else {
          this.problem = error instanceof ContextError ? error : notAnArchive(options.archiveLabel, error);
        }
      },
    ).finally(() => {
      this.inspecting = false;
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!this.inspecting) {
      done(null, chunk);
      return;
    }
    if (this.gunzip.write(chunk)) {
      done(null, chunk);
      return;
    }
    // Wait for the parser to catch up, or to give up (then it never drains).
    Promise.race([once(this.gunzip, "drain"), this.inspected]).then(
      () => done(null, chunk),
      () => done(null, chunk),
    );
  }

  override _flush(done: TransformCallback): void {
    if (this.inspecting) this.gunzip.end();
    this.inspected.then(() => done(), done);
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.gunzip.destroy();
    done(error);
  }

  private async inspect(): Promise<void> {
    const extract = tar.extract();
    const { archiveLabel, maxUnpackedBytes, keep, maxKeptBytes = 1024 * 1024 } = this.options;
    // Counted where the gunzip emits, not in a stage of its own: one stream
    // hop less per chunk, and the limit still stops a bomb at the chunk that
    // passes it.
    const counter = (chunk: Buffer) => {
      this.unpacked += chunk.length;
      if (this.unpacked > maxUnpackedBytes) {
        this.gunzip.destroy(
          new ContextError(
            "too-large",
            `context ${archiveLabel} unpacks to more than the ${maxUnpackedBytes}-byte limit (contexts.maxUnpackedBytes)`,
            "exclude what the build does not need with .dockerignore, or raise contexts.maxUnpackedBytes in the dispatcher's config",
          ),
        );
      }
    };
    this.gunzip.on("data", counter);
    const piping = pipeline(this.gunzip, extract);
    // The entry loop below ends on the first problem; the pipeline's own
    // rejection then only repeats it (or says "premature close").
    piping.catch(() => undefined);
    const symlinks = new Map<string, string>();
    try {
      for await (const entry of extract) {
        const problem = entryProblem(entry.header, symlinks);
        if (problem) {
          entry.resume();
          throw new ContextError("invalid-path", `context ${archiveLabel}: ${problem.problem}`, problem.hint);
        }
        const name = keep ? normaliseEntryName(entry.header.name) : "";
        if (keep && !this.kept.has(name) && keep(name)) {
          const type = entry.header.type ?? "file";
          const isFile = type === "file" || type === "contiguous-file";
          if (isFile && (entry.header.size ?? 0) <= maxKeptBytes) {
            const chunks: Buffer[] = [];
            for await (const chunk of entry) chunks.push(chunk as Buffer);
            this.kept.set(name, { type, content: Buffer.concat(chunks) });
          } else {
            this.kept.set(name, { type });
            entry.resume();
          }
        } else {
          entry.resume();
        }
        if (entry.header.type === "symlink") {
          symlinks.set(segments(normaliseSeparators(entry.header.name)).join("/"), normaliseSeparators(entry.header.linkname ?? ""));
        }
      }
      await piping;
    } catch (error) {
      this.gunzip.destroy();
      extract.destroy();
      // The limit error reaches the loop as the extract's error.
      if (error instanceof ContextError) throw error;
      const cause = await piping.then(() => undefined, (pipeError: unknown) => pipeError);
      if (cause instanceof ContextError) throw cause;
      throw notAnArchive(archiveLabel, error);
    }
  }
}

/** Why an entry name or hard link target is not a plain relative path inside the context. */
function pathProblem(path: string): string | undefined {
  if (path === "") return "has an empty name";
  if (isAbsolute(path)) return "is an absolute path";
  // Windows, where the dockerd pool unpacks, reads "\" as a separator too.
  if (normaliseSeparators(path).split("/").includes("..")) return 'leaves the context with ".."';
  return undefined;
}

function isAbsolute(path: string): boolean {
  return path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path);
}

function normaliseSeparators(path: string): string {
  return path.replaceAll("\\", "/");
}

function segments(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "" && segment !== ".");
}

/** Walks `target` from the directory `from`, following known symlinks, and says where it ends. */
function resolve(from: readonly string[], target: readonly string[], symlinks: ReadonlyMap<string, string>): "inside" | "outside" | "loop" {
  const at = [...from];
  const pending = [...target];
  let hops = 0;
  while (pending.length > 0) {
    const segment = pending.shift() as string;
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (at.length === 0) return "outside";
      at.pop();
      continue;
    }
    at.push(segment);
    const link = symlinks.get(at.join("/"));
    if (link === undefined) continue;
    if (++hops > maxLinkHops) return "loop";
    if (isAbsolute(link)) return "outside";
    at.pop();
    pending.unshift(...link.split("/"));
  }
  return "inside";
}

function notAnArchive(archiveLabel: string, cause: unknown): ContextError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ContextError("invalid-archive", `context ${archiveLabel} is not a readable tar.gz (${why})`, "upload the context as a gzip-compressed tar");
}
