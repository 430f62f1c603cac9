import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lastLogLine, LogTail } from "./log-tail.js";

const dir = mkdtempSync(join(tmpdir(), "dockhand-log-tail-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describe("LogTail", () => {
  // Each row appends chunks one after another, reading after each (the last read with ended: true).
  const rows: { name: string; chunks: (string | Buffer)[]; expected: string[][] }[] = [
    { name: "a file not written yet reads as nothing", chunks: [], expected: [[]] },
    { name: "hands out complete lines only while the step runs", chunks: ["one\ntw", "o\nthr", "ee"], expected: [["one"], ["two"], ["three"]] },
    { name: "drops the CR of CRLF output", chunks: ["Step 1/2\r\nStep 2/2\r\n"], expected: [["Step 1/2", "Step 2/2"]] },
    {
      name: "keeps a character split across appends whole",
      chunks: [Buffer.from("caf\xc3", "latin1"), Buffer.from("\xa9 ok\n", "latin1")],
      expected: [[], ["café ok"]],
    },
    { name: "keeps empty lines, so line numbers match the file", chunks: ["a\n\nb\n"], expected: [["a", "", "b"]] },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const file = join(dir, `${files++}.log`);
      const tail = new LogTail(file);
      const reads: string[][] = [];
      if (row.chunks.length === 0) reads.push(await tail.read(true));
      for (const [index, chunk] of row.chunks.entries()) {
        appendFileSync(file, chunk);
        reads.push(await tail.read(index === row.chunks.length - 1));
      }
      expect(reads).toEqual(row.expected);
    });
  }
});

describe("lastLogLine", () => {
  const rows = [
    { name: "the last non-empty line", text: "Step 2/2 : RUN exit 3\nThe command '/bin/sh -c exit 3' returned a non-zero code: 3\n\n", expected: "The command '/bin/sh -c exit 3' returned a non-zero code: 3" },
    { name: "nothing for an empty log", text: "", expected: undefined },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const file = join(dir, `${files++}.log`);
      appendFileSync(file, row.text);
      expect(await lastLogLine(file)).toBe(row.expected);
    });
  }
});
