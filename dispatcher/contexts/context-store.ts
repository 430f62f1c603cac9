import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ArchiveCheck, type KeptEntry } from "./archive-check.js";
import { normaliseContextPath } from "./context-path.js";
import { digestHex, parseContextDigest, type ContextDigest } from "./digest.js";
import { ContextError } from "./errors.js";
import { readFileFromTarGz } from "./tar-file.js";

export interface ContextStoreOptions {
  /** Directory holding one file per context, named by its sha256 hex. Created if missing. */
  dir: string;
  /** A context not uploaded, checked or downloaded for this long is removed by {@link ContextStore.sweep}. */
  ttlSeconds: number;
}

export interface PutOptions {
  /** Upload limit; the upload is aborted as soon as more arrive. */
  maxBytes: number;
  /** Limit on the archive once gunzipped; the upload is aborted as soon as it unpacks to more. */
  maxUnpackedBytes: number;
}

export interface PutResult {
  digest: ContextDigest;
  size: number;
  /** False when the context was already stored (by an earlier or a concurrent upload). */
  created: boolean;
}

/** An upload's raw bytes in a temp file, waiting for its signature to be checked. */
export interface SpooledUpload {
  /** The bytes as received, for {@link ContextStore.put}. */
  open(): Readable;
  /** Removes the temp file; the sweep removes one a crash left behind. */
  discard(): Promise<void>;
}

export interface ReadFileOptions {
  /** Largest file returned. Default 1 MiB: far beyond any real Dockerfile. */
  maxBytes?: number;
}

// Upload temp files share the directory so the final rename/link never crosses
// a filesystem, and start with a dot so they never look like a digest.
const tempPrefix = ".upload-";
const hexName = /^[0-9a-f]{64}$/;
// Beside each context: its Dockerfiles' texts, read by the upload's archive
// check, so a build request never unpacks the stored tar.gz to plan.
const dockerfilesSuffix = ".dockerfiles.json";
const dockerfilesName = /^([0-9a-f]{64})\.dockerfiles\.json$/;
const keptDockerfileBytes = 1024 * 1024;

/** The files a build request may name as its Dockerfile, by the names people give them. */
function looksLikeDockerfile(name: string): boolean {
  const base = name.slice(name.lastIndexOf("/") + 1).toLowerCase();
  return base.includes("dockerfile") || base.includes("containerfile");
}

/** The sidecar's content: each kept name's first entry, file contents in base64 (bytes as stored). */
interface DockerfilesIndex {
  entries: Record<string, { type: string; base64?: string }>;
}

/**
 * Content-addressed store of build contexts (tar.gz) in one directory. Every
 * file under a digest name has been verified to hash to that name, so a stored
 * context never needs checking again. "Touched" means the file's mtime is set
 * to now: atime is not reliable on noatime mounts.
 */
export class ContextStore {
  /** Indexes read, by context path: a context never changes, so neither does its index. */
  private readonly indexes = new Map<string, DockerfilesIndex>();
  /** When this process last touched each context: a build request touches it twice (has, then readFile). */
  private readonly touched = new Map<string, number>();

  private constructor(private readonly options: ContextStoreOptions) {}

  static async create(options: ContextStoreOptions): Promise<ContextStore> {
    await mkdir(options.dir, { recursive: true });
    return new ContextStore(options);
  }

  /** Whether the context is stored; touches it when it is (a HEAD is a sign of imminent use). */
  async has(digest: string): Promise<boolean> {
    const path = this.pathOf(parseContextDigest(digest));
    return this.touch(path);
  }

  /**
   * Streams an upload into a temp file while hashing it and checking every
   * archive entry ({@link ArchiveCheck}), then moves it under its digest.
   * Over-size, mismatching and unsafe uploads leave nothing behind.
   * Callers that want to skip re-uploads of a known context call {@link has}
   * first; `put` always reads and verifies the whole stream.
   */
  async put(digest: string, body: Readable | AsyncIterable<Uint8Array>, options: PutOptions): Promise<PutResult> {
    const expected = parseContextDigest(digest);
    const final = this.pathOf(expected);
    const temp = join(this.options.dir, `${tempPrefix}${randomBytes(8).toString("hex")}`);
    const hashing = new HashingLimit(options.maxBytes, expected);
    const archive = new ArchiveCheck({
      archiveLabel: shortDigest(expected),
      maxUnpackedBytes: options.maxUnpackedBytes,
      keep: looksLikeDockerfile,
      maxKeptBytes: keptDockerfileBytes,
    });
    try {
      // flush: fsync before close, so a crash cannot leave a verified name on unwritten data.
      await pipeline(body, hashing, archive, createWriteStream(temp, { flags: "wx", flush: true }));
      const actual: ContextDigest = `sha256:${hashing.hex()}`;
      if (actual !== expected) {
        throw new ContextError(
          "digest-mismatch",
          `context upload does not match its digest: expected ${expected}, got ${actual} (${hashing.bytes} bytes)`,
          "compute the digest over the exact bytes uploaded (the gzip-compressed tar)",
          { expected, actual },
        );
      }
      if (archive.problem) throw archive.problem;
      // Before the context is in place: a context never shows without its index
      // once this version stored it (one stored earlier has none: readFile unpacks).
      await this.writeDockerfiles(final, archive.kept);
      const created = await moveIntoPlace(temp, final);
      if (!created) await this.touch(final);
      return { digest: expected, size: hashing.bytes, created };
    } finally {
      await unlink(temp).catch(ignoreMissing);
    }
  }

  /**
   * Writes an upload's bytes to a temp file as they are, bounded by maxBytes
   * and parsed by nothing (no gunzip, no tar): where a signed upload waits
   * while its signature, which covers every byte, is checked. The bytes are
   * written twice (here, then by {@link put}); OIDC uploads, checked before
   * their body is read, stream straight into `put`.
   */
  async spool(digest: string, body: Readable, maxBytes: number): Promise<SpooledUpload> {
    const expected = parseContextDigest(digest);
    const temp = join(this.options.dir, `${tempPrefix}${randomBytes(8).toString("hex")}`);
    const discard = () => unlink(temp).catch(ignoreMissing);
    try {
      await pipeline(body, new HashingLimit(maxBytes, expected), createWriteStream(temp, { flags: "wx" }));
    } catch (error) {
      await discard();
      throw error;
    }
    return { open: () => createReadStream(temp), discard };
  }

  /** Streams a stored context out, touching it. */
  async open(digest: string): Promise<Readable> {
    const parsed = parseContextDigest(digest);
    const path = this.pathOf(parsed);
    if (!(await this.touch(path))) throw notStored(parsed);
    return createReadStream(path);
  }

  /** Reads one file (the Dockerfile) out of a stored context. */
  async readFile(digest: string, pathInTar: string, options: ReadFileOptions = {}): Promise<Buffer> {
    const parsed = parseContextDigest(digest);
    const path = this.pathOf(parsed);
    if (!(await this.touch(path))) throw notStored(parsed);
    const maxBytes = options.maxBytes ?? 1024 * 1024;
    const indexed = await this.indexedFile(path, pathInTar, maxBytes);
    if (indexed) return indexed;
    // Not a file the index answers for (another name, a link, absent, too
    // large: cases whose answer or error message the full read gives).
    return readFileFromTarGz(() => createReadStream(path), pathInTar, {
      maxBytes,
      archiveLabel: shortDigest(parsed),
    });
  }

  /** The file from the context's Dockerfiles index, when the index has it as a regular file within maxBytes. */
  private async indexedFile(contextPath: string, pathInTar: string, maxBytes: number): Promise<Buffer | undefined> {
    let wanted: string;
    try {
      wanted = normaliseContextPath(pathInTar);
    } catch {
      return undefined; // readFileFromTarGz says what is wrong with it
    }
    if (!looksLikeDockerfile(wanted)) return undefined;
    let index = this.indexes.get(contextPath);
    if (!index) {
      try {
        index = JSON.parse(await readFile(`${contextPath}${dockerfilesSuffix}`, "utf8")) as DockerfilesIndex;
      } catch {
        return undefined; // stored before there were indexes, or unreadable: unpack as before
      }
      // A bounded cache: the oldest entry goes first (Map keeps insertion order).
      if (this.indexes.size >= 256) this.indexes.delete(this.indexes.keys().next().value!);
      this.indexes.set(contextPath, index);
    }
    const entry = Object.hasOwn(index.entries, wanted) ? index.entries[wanted] : undefined;
    if (entry?.base64 === undefined) return undefined;
    const content = Buffer.from(entry.base64, "base64");
    return content.length <= maxBytes ? content : undefined;
  }

  /**
   * Sets the context's mtime to now (the sweep's clock), once a second at
   * most: utimes is a metadata write, and on a busy disk the two of every
   * build request were a good part of its wait.
   */
  private async touch(path: string): Promise<boolean> {
    const now = Date.now();
    const last = this.touched.get(path);
    if (last !== undefined && now - last < 1000 && (await exists(path))) return true;
    if (this.touched.size >= 1024) this.touched.clear();
    const stored = await touch(path);
    if (stored) this.touched.set(path, now);
    else this.touched.delete(path);
    return stored;
  }

  private async writeDockerfiles(contextPath: string, kept: ReadonlyMap<string, KeptEntry>): Promise<void> {
    const index: DockerfilesIndex = { entries: {} };
    for (const [name, entry] of kept) index.entries[name] = { type: entry.type, ...(entry.content ? { base64: entry.content.toString("base64") } : {}) };
    const temp = join(this.options.dir, `${tempPrefix}${randomBytes(8).toString("hex")}`);
    try {
      await writeFile(temp, JSON.stringify(index), { flag: "wx", flush: true });
      await rename(temp, `${contextPath}${dockerfilesSuffix}`);
    } finally {
      await unlink(temp).catch(ignoreMissing);
    }
  }

  /**
   * Removes contexts (and abandoned upload temp files) not touched for
   * ttlSeconds before `now`. A download already streaming keeps its open file
   * after the unlink, so sweeping never breaks a running build's fetch.
   */
  async sweep(now: Date = new Date()): Promise<{ removed: ContextDigest[] }> {
    const cutoff = now.getTime() - this.options.ttlSeconds * 1000;
    const removed: ContextDigest[] = [];
    const names = await readdir(this.options.dir);
    const present = new Set(names);
    for (const name of names) {
      // An index goes with its context: removed below with it, or here when a crash left it alone.
      const indexOf = dockerfilesName.exec(name)?.[1];
      if (indexOf !== undefined) {
        // Written just before its context is linked into place: only an old one is an orphan.
        const info = present.has(indexOf) ? undefined : await stat(join(this.options.dir, name)).catch(ignoreMissing);
        if (info !== undefined && info.mtimeMs < cutoff) await unlink(join(this.options.dir, name)).catch(ignoreMissing);
        continue;
      }
      const isContext = hexName.test(name);
      if (!isContext && !name.startsWith(tempPrefix)) continue;
      const path = join(this.options.dir, name);
      const info = await stat(path).catch(ignoreMissing);
      if (info === undefined || info.mtimeMs >= cutoff) continue;
      await unlink(path).catch(ignoreMissing);
      this.touched.delete(path);
      this.indexes.delete(path);
      if (isContext) {
        await unlink(`${path}${dockerfilesSuffix}`).catch(ignoreMissing);
        removed.push(`sha256:${name}`);
      }
    }
    return { removed };
  }

  private pathOf(digest: ContextDigest): string {
    return join(this.options.dir, digestHex(digest));
  }
}

/** `sha256:` and the first 12 hex digits: enough to recognise a context in a message. */
export function shortDigest(digest: ContextDigest): string {
  return `${digest.slice(0, "sha256:".length + 12)}…`;
}

/** Hashes what passes through and fails the pipeline as soon as the limit is passed. */
class HashingLimit extends Transform {
  bytes = 0;
  private readonly hash = createHash("sha256");

  constructor(
    private readonly maxBytes: number,
    private readonly digest: ContextDigest,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(
        new ContextError(
          "too-large",
          `context ${shortDigest(this.digest)} is larger than the ${this.maxBytes}-byte upload limit`,
          "exclude what the build does not need with .dockerignore, or raise the dispatcher's context size limit",
        ),
      );
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  hex(): string {
    return this.hash.digest("hex");
  }
}

/**
 * link() fails with EEXIST when the name is taken, which makes a concurrent
 * upload of the same digest a no-op instead of a second writer. Filesystems
 * without hard links get rename(), whose replace is atomic and, the content
 * being identical, harmless.
 */
async function moveIntoPlace(temp: string, final: string): Promise<boolean> {
  try {
    await link(temp, final);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw error;
  }
  if (await exists(final)) return false;
  await rename(temp, final);
  return true;
}

async function touch(path: string): Promise<boolean> {
  const now = new Date();
  try {
    await utimes(path, now, now);
    return true;
  } catch (error) {
    ignoreMissing(error);
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(ignoreMissing)) !== undefined;
}

function ignoreMissing(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
  throw error;
}

function notStored(digest: ContextDigest): ContextError {
  return new ContextError(
    "not-found",
    `context ${digest} is not stored (never uploaded, or expired)`,
    "upload it with PUT /v1/contexts/{sha256} before starting the build",
  );
}
