// Reads a step's log file as numbered lines while the step may still be
// appending to it. Only complete lines are handed out until the step has
// ended, so a line number always means the same line: what a resumed stream
// relies on to skip what the client has already seen.

import { open } from "node:fs/promises";

const newline = 0x0a;
const chunkSize = 64 * 1024;

export class LogTail {
  private offset = 0;
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly file: string) {}

  /**
   * Lines appended since the last call. With `ended` the step has exited, so a
   * last line without a newline is complete too.
   */
  async read(ended: boolean): Promise<string[]> {
    const lines: string[] = [];
    let handle;
    try {
      handle = await open(this.file, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return lines;
      throw err;
    }
    try {
      const buffer = Buffer.alloc(chunkSize);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, chunkSize, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        this.pending = Buffer.concat([this.pending, buffer.subarray(0, bytesRead)]);
        let start = 0;
        for (let end = this.pending.indexOf(newline); end >= 0; end = this.pending.indexOf(newline, start)) {
          lines.push(lineText(this.pending.subarray(start, end)));
          start = end + 1;
        }
        this.pending = this.pending.subarray(start);
      }
    } finally {
      await handle.close();
    }
    if (ended && this.pending.length > 0) {
      lines.push(lineText(this.pending));
      this.pending = Buffer.alloc(0);
    }
    return lines;
  }
}

// Decoded per line, so a multi-byte character split across reads stays whole;
// a trailing CR (CRLF output of Windows tools) is not part of the line.
function lineText(bytes: Buffer): string {
  const text = bytes.toString("utf8");
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

/** Last non-empty line of a log, for a failure message (as Kubernetes' FallbackToLogsOnError gives). */
export async function lastLogLine(file: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, "r");
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 8 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").split("\n").map((line) => line.replace(/\r$/, "").trim()).filter(Boolean);
    return lines.at(-1)?.slice(0, 200);
  } finally {
    await handle.close();
  }
}
