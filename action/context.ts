// Packs the build context into a reproducible tar.gz: the files `docker build`
// would send, honouring .dockerignore exactly as Docker does, with every
// header normalised so that the same tree always gives the same sha256 (the
// dispatcher stores contexts by digest: a matrix, or a re-run of an unchanged
// tree, uploads once).
//
// .dockerignore semantics (https://docs.docker.com/build/concepts/context/#dockerignore-files):
// - patterns are read as moby's ignorefile.ReadAll does: lines starting with
//   `#` are comments, then whitespace is trimmed, `!` marks an exception, the
//   pattern is cleaned (filepath.Clean) and a leading `/` dropped;
// - matching is Go's filepath.Match plus `**` (any number of directories),
//   case-sensitive, and a pattern that matches a directory excludes what is
//   inside it; the last matching pattern wins. That matching is
//   @balena/dockerignore, a port of moby's matcher — not hand-written globbing;
// - the Dockerfile and the ignore file are always sent, even when excluded
//   ("these files are still sent to the builder as they're needed for running
//   the build"), the way the docker CLI does it: TrimBuildFilesFromExcludes
//   appends `!<file>` for each;
// - `<Dockerfile>.dockerignore` next to the Dockerfile takes precedence over
//   the root .dockerignore;
// - which excluded directories are still walked (an exception may re-include
//   something inside) follows BuildKit's context sender (tonistiigi/fsutil
//   filter.go, what `docker build` uses since Docker 23): skipped only when no
//   exception has a wildcard and none lies under the directory; an excluded
//   directory that holds a re-included file is sent as its parent.

import dockerignore from "@balena/dockerignore";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, lstatSync, readFileSync, readdirSync, readlinkSync, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, join, posix, win32 } from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants as zlibConstants, createGzip } from "node:zlib";
import tar from "tar-stream";

// A CommonJS module whose factory is also its own `default`; the types only know the latter.
const ignore = dockerignore.default;

/** What a ContextError is about: the directory (`context`) or the Dockerfile (`file`). */
export class ContextError extends Error {
  override readonly name = "ContextError";
  constructor(
    readonly input: "context" | "file",
    message: string,
  ) {
    super(message);
  }
}

export interface ContextEntry {
  /** Relative to the context, forward slashes. */
  readonly path: string;
  readonly type: "file" | "directory" | "symlink";
  readonly mode: number;
  readonly size: number;
  readonly linkname?: string;
  readonly absolute: string;
}

export interface ContextListing {
  readonly entries: readonly ContextEntry[];
  /** The ignore file used, relative to the context, or undefined when there is none. */
  readonly ignoreFile: string | undefined;
}

export interface PackedContext {
  readonly digest: `sha256:${string}`;
  /** The tar.gz on disk. */
  readonly path: string;
  /** Compressed size in bytes. */
  readonly size: number;
  readonly files: number;
  readonly entries: number;
  /** Sum of the files' sizes, uncompressed. */
  readonly contentBytes: number;
  readonly ignoreFile: string | undefined;
  readonly seconds: number;
}

/** Every entry gets this mtime, uid/gid 0 and no owner names: a checkout's times and the runner's user must not change the digest. */
export const fixedMtime = new Date(0);

export interface IgnorePattern {
  readonly pattern: string;
  readonly exception: boolean;
}

/** Reads .dockerignore text as moby's ignorefile.ReadAll does. */
export function readIgnorePatterns(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  text
    .replace(/^\uFEFF/, "")
    .split(/\r?\n/)
    .forEach((line) => {
      // The comment test comes before trimming: " #x" is a pattern, "#x" a comment.
      if (line.startsWith("#")) return;
      let pattern = line.trim();
      if (pattern === "") return;
      const exception = pattern.startsWith("!");
      if (exception) pattern = pattern.slice(1).trim();
      if (pattern.length > 0) {
        pattern = posix.normalize(pattern).replace(/(.)\/+$/, "$1");
        if (pattern.length > 1 && pattern.startsWith("/")) pattern = pattern.slice(1);
      }
      if (pattern === "") return;
      patterns.push({ pattern, exception });
    });
  return patterns;
}

export interface ContextMatcher {
  /** True when the path (relative, forward slashes) is excluded. */
  excludes(path: string): boolean;
  /** Whether an excluded directory must still be walked because an exception may re-include something in it. */
  mayReinclude(directory: string): boolean;
}

// fsutil's patternChars ("*[]?^", plus the escape "\" where "/" separates paths).
const wildcardCharacters = /[*[\]?^\\]/;

/**
 * The matcher for a context: the ignore file's patterns, plus `!<file>` for
 * the Dockerfile and the ignore file when the patterns exclude them.
 */
export function contextMatcher(patterns: readonly IgnorePattern[], alwaysSent: readonly string[]): ContextMatcher {
  const all = [...patterns];
  const toBalena = (p: IgnorePattern) => `${p.exception ? "!" : ""}${!p.exception && p.pattern.startsWith("#") ? "\\" : ""}${p.pattern}`;
  // Docker matches case-sensitively on every OS (Go regexps); the library's default is not.
  let matcher = ignore({ ignorecase: false }).add(all.map(toBalena));
  for (const path of alwaysSent) {
    if (matcher.ignores(path)) {
      all.push({ pattern: path, exception: true });
      matcher = ignore({ ignorecase: false }).add(all.map(toBalena));
    }
  }
  const exceptions = all.filter((p) => p.exception).map((p) => p.pattern.replace(/\/\*\*$/, "").replace(/\/\*$/, ""));
  const onlyPrefixExceptions = !exceptions.some((p) => wildcardCharacters.test(p));
  return {
    excludes: (path) => matcher.ignores(path),
    mayReinclude: (directory) => {
      if (exceptions.length === 0) return false;
      if (!onlyPrefixExceptions) return true;
      return exceptions.some((p) => `${p}/`.startsWith(`${directory}/`));
    },
  };
}

// Byte order of the UTF-8 names: the same on every OS and locale.
function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Lists what would be sent, in archive order, refusing symlinks that leave the context. */
export async function listContext(contextDir: string, dockerfile: string): Promise<ContextListing> {
  let rootStats: Stats;
  try {
    rootStats = await stat(contextDir);
  } catch {
    throw new ContextError("context", `context: ${JSON.stringify(contextDir)} does not exist; set context to a directory of the checkout (default ".")`);
  }
  if (!rootStats.isDirectory()) throw new ContextError("context", `context: ${JSON.stringify(contextDir)} is not a directory`);

  const specificIgnore = `${dockerfile}.dockerignore`;
  let ignoreFile: string | undefined;
  let ignoreText = "";
  for (const candidate of [specificIgnore, ".dockerignore"]) {
    try {
      ignoreText = await readFile(join(contextDir, ...candidate.split("/")), "utf8");
      ignoreFile = candidate;
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  const matcher = contextMatcher(readIgnorePatterns(ignoreText), ignoreFile === undefined ? [dockerfile] : [ignoreFile, dockerfile]);

  const entries: ContextEntry[] = [];
  // Excluded directories walked for exceptions: sent only once something under them is.
  const pendingParents: ContextEntry[] = [];
  const walk = async (absolute: string, relativeDir: string): Promise<void> => {
    // Synchronous calls: nothing else runs in the step meanwhile, and a
    // thread-pool round trip per file doubled the time to list a large tree.
    const names = readdirSync(absolute).sort(byName);
    for (const name of names) {
      const path = relativeDir === "" ? name : `${relativeDir}/${name}`;
      const entryAbsolute = join(absolute, name);
      const stats = lstatSync(entryAbsolute);
      const excluded = matcher.excludes(path);
      if (stats.isDirectory()) {
        const entry: ContextEntry = { path, type: "directory", mode: 0o755, size: 0, absolute: entryAbsolute };
        if (excluded) {
          if (!matcher.mayReinclude(path)) continue;
          pendingParents.push(entry);
          await walk(entryAbsolute, path);
          if (pendingParents.at(-1) === entry) pendingParents.pop();
          continue;
        }
        emit(entry);
        await walk(entryAbsolute, path);
        continue;
      }
      if (excluded) continue;
      if (stats.isFile()) {
        emit({ path, type: "file", mode: stats.mode & 0o111 ? 0o755 : 0o644, size: stats.size, absolute: entryAbsolute });
      } else if (stats.isSymbolicLink()) {
        const target = readlinkSync(entryAbsolute);
        const problem = symlinkEscape(path, target);
        if (problem) {
          throw new ContextError(
            "context",
            `context: symlink ${JSON.stringify(path)} points to ${JSON.stringify(target)}, ${problem}; the build would read a file from outside the context. Replace the link with the file it points to, or add ${JSON.stringify(path)} to ${ignoreFile ?? ".dockerignore"}`,
          );
        }
        emit({ path, type: "symlink", mode: 0o777, size: 0, linkname: target.replaceAll("\\", "/"), absolute: entryAbsolute });
      } else if (stats.isSocket()) {
        // Docker's archiver skips sockets (pkg/archive: "sockets are not supported").
      } else {
        throw new ContextError("context", `context: ${JSON.stringify(path)} is a device or named pipe, which a build context cannot carry; add it to ${ignoreFile ?? ".dockerignore"}`);
      }
    }
  };
  const emit = (entry: ContextEntry) => {
    entries.push(...pendingParents.splice(0));
    entries.push(entry);
  };
  await walk(contextDir, "");

  const dockerfileEntry = entries.find((e) => e.path === dockerfile);
  if (!dockerfileEntry || dockerfileEntry.type === "directory") {
    throw new ContextError("file", `file: ${JSON.stringify(dockerfile)} is not a file in the context ${JSON.stringify(contextDir)}; set file to the Dockerfile's path (default <context>/Dockerfile)`);
  }
  return { entries, ignoreFile };
}

/** Why a symlink's target leaves the context, or undefined when it stays inside. */
export function symlinkEscape(path: string, target: string): string | undefined {
  if (target === "") return "an empty target";
  if (isAbsolute(target) || posix.isAbsolute(target) || win32.isAbsolute(target)) return "an absolute path";
  const resolved = posix.normalize(posix.join(posix.dirname(path), target.replaceAll("\\", "/")));
  if (resolved === ".." || resolved.startsWith("../")) return "outside the context";
  return undefined;
}

// Files below this are read whole (one syscall, no stream set-up); larger ones stream.
const readWholeBelow = 4 * 1024 * 1024;

/** Packs the context into `outFile` and returns its digest. */
export async function packContext(options: { contextDir: string; dockerfile: string; outFile: string; signal?: AbortSignal }): Promise<PackedContext> {
  const started = process.hrtime.bigint();
  const listing = await listContext(options.contextDir, options.dockerfile);
  const pack = tar.pack();
  const hash = createHash("sha256");
  let size = 0;
  let offset = 0;
  // RFC 1952 byte 9 names the OS that wrote the gzip stream; zlib fills in its
  // own, so a Windows and a Linux runner would disagree. 255 is "unknown".
  const normaliseAndHash = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (offset <= 9 && offset + chunk.length > 9) {
        chunk = Buffer.from(chunk);
        chunk[9 - offset] = 0xff;
      }
      offset += chunk.length;
      size += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  const written = pipeline(pack, coalesce(1024 * 1024), createGzip({ level: 6, strategy: zlibConstants.Z_DEFAULT_STRATEGY }), normaliseAndHash, createWriteStream(options.outFile));

  let files = 0;
  let contentBytes = 0;
  const header = (entry: ContextEntry) => ({
    name: entry.path,
    mode: entry.mode,
    uid: 0,
    gid: 0,
    uname: "",
    gname: "",
    mtime: fixedMtime,
  });
  try {
    for (const entry of listing.entries) {
      // A cancelled workflow gives the step seconds, not the time to pack a large tree.
      options.signal?.throwIfAborted();
      if (entry.type === "directory") {
        await addEntry(pack, { ...header(entry), type: "directory" });
      } else if (entry.type === "symlink") {
        await addEntry(pack, { ...header(entry), type: "symlink", linkname: entry.linkname });
      } else {
        files++;
        contentBytes += entry.size;
        if (entry.size < readWholeBelow) {
          const data = readFileSync(entry.absolute);
          if (data.length !== entry.size) throw changedWhilePacking(entry.path);
          await addEntry(pack, { ...header(entry), type: "file", size: data.length }, data);
        } else {
          await streamEntry(pack, { ...header(entry), type: "file", size: entry.size }, entry, options.signal);
        }
      }
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await written.catch(() => undefined);
    throw err;
  }
  await written;
  return {
    digest: `sha256:${hash.digest("hex")}`,
    path: options.outFile,
    size,
    files,
    entries: listing.entries.length,
    contentBytes,
    ignoreFile: listing.ignoreFile,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/**
 * Joins tar-stream's many small pushes (a 512-byte header, the data, the
 * padding: three per file) into large chunks: zlib runs each write as its
 * own job on the thread pool, and per-write overhead, not compression,
 * dominated packing a tree of small files.
 */
function coalesce(chunkBytes: number): Transform {
  let pending: Buffer[] = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= chunkBytes) {
        const joined = Buffer.concat(pending, size);
        pending = [];
        size = 0;
        callback(null, joined);
      } else callback();
    },
    flush(callback: TransformCallback) {
      callback(null, size > 0 ? Buffer.concat(pending, size) : undefined);
    },
  });
}

type EntryHeader = Parameters<tar.Pack["entry"]>[0];

// tar-stream's entry sink is a streamx Writable: write/drain/end, which is
// all this needs (node:stream's pipeline expects Node streams).
async function streamEntry(pack: tar.Pack, headers: EntryHeader, entry: ContextEntry, signal: AbortSignal | undefined): Promise<void> {
  let failure: Error | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    const sink = pack.entry(headers, (err) => (err ? reject(changedWhilePacking(entry.path, err)) : resolve()));
    // Its error is this promise's rejection; unheard, streamx would throw it.
    sink.on("error", () => undefined);
    (async () => {
      for await (const chunk of createReadStream(entry.absolute)) {
        signal?.throwIfAborted();
        if (!sink.write(chunk as Buffer)) await new Promise<void>((drained) => sink.once("drain", () => drained()));
      }
      sink.end(undefined);
    })().catch((err: Error) => {
      failure = err;
      sink.destroy(err);
      reject(err);
    });
  });
  await finished;
  if (failure) throw failure;
}

function addEntry(pack: tar.Pack, headers: EntryHeader, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const callback = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data === undefined) pack.entry(headers, callback);
    else pack.entry(headers, data, callback);
  });
}

function changedWhilePacking(path: string, cause?: unknown): ContextError {
  return new ContextError("context", `context: ${JSON.stringify(path)} changed size while it was being packed${cause ? ` (${String(cause)})` : ""}; do not write into the context while this step runs`);
}
