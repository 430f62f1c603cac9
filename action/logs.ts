// Following a build's logs: GET /v1/builds/{id}/logs?follow=1 is NDJSON,
// `{platform, step, n, line}` per line and `{event: "end", state}` last. `n`
// counts lines per platform and step from 1, so after a dropped connection
// the stream is reopened with `resume=<slug>/<step>:<n>,…` (the last line
// seen of each) and continues exactly where it stopped; lines at or below
// what was seen are dropped here too, so even a dispatcher that ignored
// `resume` could not make a line appear twice.
//
// How they are shown: one `::group::` per platform, each platform's lines
// together. GitHub's log viewer folds a group into one line and cannot nest
// or interleave them, and a reader of a finished log wants "the Windows
// ltsc2019 output" in one place, not lines of three builds shuffled by
// arrival. So one platform is shown live (the first that speaks); the
// others' lines are kept and each is shown as its own group as soon as the
// live one finishes (the dispatcher's state says when), then live from there.
// A single-platform build — the common case — is simply live in one group.

import type { IncomingMessage } from "node:http";
import { type LogLine, type LogStreamEvent, resumeCursor } from "../dispatcher/protocol/build-logs.js";
import type { BuildStateBody } from "../dispatcher/protocol/build-state.js";
import { isFinalPhase } from "../dispatcher/protocol/phases.js";
import { DispatcherRequestError, type DispatcherClient, sleep } from "./client.js";

/** Lines seen so far, per `<slug>/<step>`: what `resume` sends and what a repeat is checked against. */
export class LogCursor {
  private readonly seen = new Map<string, number>();
  private readonly slugs: ReadonlyMap<string, string>;

  constructor(build: Pick<BuildStateBody, "platforms">) {
    this.slugs = new Map(build.platforms.map((p) => [p.platform, p.slug]));
  }

  /** True when the line is new (and records it); false for one already seen. */
  accept(line: LogLine): boolean {
    const key = this.key(line);
    if (line.n <= (this.seen.get(key) ?? 0)) return false;
    this.seen.set(key, line.n);
    return true;
  }

  /** `win-ltsc2022/build:120,linux-amd64/build:80` */
  resume(): string {
    return resumeCursor(this.seen);
  }

  private key(line: LogLine): string {
    const slug = this.slugs.get(line.platform) ?? line.platform.replace(/[^a-z0-9]+/g, "-");
    return `${slug}/${line.step}`;
  }
}

export interface FollowOptions {
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Wait before reopening a dropped stream; grows to 10× on repeated drops without progress. */
  reconnectDelayMs?: number;
  /** Reopen a broken stream at most this many times in a row without a new line before giving up. */
  maxReconnects?: number;
  /** How often to look again when the dispatcher ended the stream but not the build. */
  waitDelayMs?: number;
}

export type LogEvent = { kind: "line"; line: LogLine } | { kind: "end"; state: string };

/**
 * Every line of the build once, in order per platform and step, then the
 * final state. Reconnects (with resume) when the stream drops or ends while
 * the build is still running.
 */
export async function* followLogs(client: DispatcherClient, build: BuildStateBody, options: FollowOptions = {}): AsyncGenerator<LogEvent> {
  const cursor = new LogCursor(build);
  const log = options.log ?? (() => undefined);
  const baseDelay = options.reconnectDelayMs ?? 1000;
  let dropsWithoutProgress = 0;
  let lastWaitNote: string | undefined;
  for (;;) {
    let response: IncomingMessage;
    try {
      response = await client.openLogs(build.id, cursor.resume(), options.signal);
    } catch (err) {
      if (err instanceof DispatcherRequestError && err.status === 404) {
        yield { kind: "end", state: "gone" };
        return;
      }
      throw err;
    }
    let progressed = false;
    let why = "the connection closed";
    let endedEarly: string | undefined;
    try {
      for await (const text of ndjsonLines(response)) {
        let message: Partial<LogLine> & { event?: LogStreamEvent["event"]; state?: string; error?: string };
        try {
          message = JSON.parse(text);
        } catch {
          continue;
        }
        if (message.event === "end") {
          if (message.state !== undefined && isFinalPhase(message.state)) {
            yield { kind: "end", state: message.state };
            return;
          }
          // Still running: either every platform is done and the build waits
          // for its image index (no more lines will come), or a pod's log
          // stream ended early and the rest is still to be read.
          const now = await client.getBuild(build.id, options.signal);
          if (!now || now.platforms.every((p) => isFinalPhase(p.state))) {
            yield { kind: "end", state: now?.state ?? "gone" };
            return;
          }
          // The dispatcher ended the stream itself: its steps' logs are read
          // but a platform is not done (e.g. its pushed image being read
          // back). Not a broken connection: wait and look again, quietly.
          endedEarly = now.platforms.filter((p) => !isFinalPhase(p.state)).map((p) => `${p.platform}: ${p.message ?? p.state}`).join("; ");
          break;
        }
        if (message.event === "error") {
          why = message.error ?? "the dispatcher reported a broken stream";
          break;
        }
        if (typeof message.platform !== "string" || typeof message.step !== "string" || typeof message.n !== "number") continue;
        const line = message as LogLine;
        if (cursor.accept(line)) {
          progressed = true;
          yield { kind: "line", line };
        }
      }
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      why = `${(err as NodeJS.ErrnoException).code ?? ""} ${(err as Error).message}`.trim();
    } finally {
      response.destroy();
    }
    options.signal?.throwIfAborted();
    if (endedEarly !== undefined) {
      if (endedEarly !== lastWaitNote) log(`the log is complete so far; waiting for the build (${endedEarly})`);
      lastWaitNote = endedEarly;
      dropsWithoutProgress = 0;
      await sleep(options.waitDelayMs ?? 3000, options.signal);
      continue;
    }
    dropsWithoutProgress = progressed ? 1 : dropsWithoutProgress + 1;
    if (dropsWithoutProgress > (options.maxReconnects ?? 30)) {
      throw new Error(`the log stream kept dropping (${why}); giving up on following build ${build.id} (${build.url}); the post step cancels it`);
    }
    const delay = Math.min(baseDelay * 10, baseDelay * dropsWithoutProgress);
    log(`log stream interrupted (${why}); resuming${cursor.resume() ? ` after ${cursor.resume()}` : ""} in ${(delay / 1000).toFixed(1)} s`);
    await sleep(delay, options.signal);
  }
}

/** Complete lines only: a partial last line of a dropped connection is left for the resumed stream. */
async function* ndjsonLines(stream: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of stream) {
    pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    let newline: number;
    while ((newline = pending.indexOf("\n")) !== -1) {
      const text = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (text.trim() !== "") yield text;
    }
  }
}

/** Where the display writes: the runner's log commands in production, an array in tests. */
export interface LogOutput {
  startGroup(title: string): void;
  endGroup(): void;
  info(text: string): void;
}

// A platform kept back while another is live holds at most this many lines;
// older ones are dropped (and counted) — the full log stays at the dispatcher.
const maxBufferedLines = 100_000;
const lastLinesKept = 20;

interface PlatformLog {
  buffered: LogLine[];
  dropped: number;
  shown: boolean;
  finished: boolean;
  lastStep: string | undefined;
  /** The step of the newest line received, shown or not. */
  receivedStep: string | undefined;
  /** The last lines of each step, for the failure message. */
  tails: Map<string, string[]>;
}

/** One group per platform, one platform live at a time (see the top of this file for why). */
export class LogDisplay {
  private readonly platforms = new Map<string, PlatformLog>();
  private live: string | undefined;

  constructor(
    private readonly out: LogOutput,
    private readonly title: (platform: string) => string = (platform) => platform,
  ) {}

  line(line: LogLine): void {
    const log = this.platformLog(line.platform);
    const tail = log.tails.get(line.step) ?? [];
    tail.push(line.line);
    if (tail.length > lastLinesKept) tail.shift();
    log.tails.set(line.step, tail);
    log.receivedStep = line.step;

    if (this.live === undefined && !log.shown) this.open(line.platform);
    if (this.live === line.platform) {
      this.print(log, line);
      return;
    }
    log.buffered.push(line);
    if (log.buffered.length > maxBufferedLines) {
      log.buffered.shift();
      log.dropped++;
    }
  }

  /** The dispatcher says this platform has finished: if it is live, the next one takes over. */
  finished(platform: string): void {
    const log = this.platformLog(platform);
    if (log.finished) return;
    log.finished = true;
    if (this.live !== platform) return;
    this.close();
    // Next: a finished platform first (its log is complete), else the one with most to show.
    const waiting = [...this.platforms].filter(([, l]) => l.buffered.length > 0 && !l.shown);
    waiting.sort(([, a], [, b]) => Number(b.finished) - Number(a.finished) || b.buffered.length - a.buffered.length);
    for (const [name, l] of waiting) {
      this.open(name);
      if (!l.finished) return;
      this.close();
    }
  }

  /** The stream ended: close the live group and show what is still kept back. */
  end(): void {
    if (this.live !== undefined) this.close();
    for (const [name, log] of this.platforms) {
      if (log.buffered.length === 0) continue;
      this.open(name, log.shown ? " (continued)" : "");
      this.close();
    }
  }

  /** The last lines of a platform's step (the failed one when named), for the failure message. */
  lastLines(platform: string, step?: string): string[] {
    const tails = this.platforms.get(platform)?.tails;
    if (!tails) return [];
    if (step !== undefined && tails.has(step)) return [...(tails.get(step) as string[])];
    const lastStep = this.platforms.get(platform)?.receivedStep;
    return lastStep !== undefined ? [...(tails.get(lastStep) ?? [])] : [];
  }

  private open(platform: string, suffix = ""): void {
    const log = this.platformLog(platform);
    this.out.startGroup(`${this.title(platform)}${suffix}`);
    log.shown = true;
    this.live = platform;
    if (log.dropped > 0) this.out.info(`… ${log.dropped} earlier lines not kept here; the full log is at the dispatcher`);
    log.dropped = 0;
    for (const line of log.buffered.splice(0)) this.print(log, line);
  }

  private close(): void {
    this.out.endGroup();
    this.live = undefined;
  }

  private print(log: PlatformLog, line: LogLine): void {
    if (log.lastStep !== line.step) {
      if (log.lastStep !== undefined || line.step !== "build") this.out.info(`── step ${line.step} ──`);
      log.lastStep = line.step;
    }
    this.out.info(line.line);
  }

  private platformLog(platform: string): PlatformLog {
    let log = this.platforms.get(platform);
    if (!log) {
      log = { buffered: [], dropped: 0, shown: false, finished: false, lastStep: undefined, receivedStep: undefined, tails: new Map() };
      this.platforms.set(platform, log);
    }
    return log;
  }
}
