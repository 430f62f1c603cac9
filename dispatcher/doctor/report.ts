// Pure: the doctor's results as a table for people, JSON for automation, and
// the exit code.

import type { CheckResult } from "./check.js";

/** 0 only when every check ran and passed: a skipped check is not a pass. */
export function exitCode(results: readonly CheckResult[]): number {
  if (results.some((result) => result.outcome === "FAIL")) return 1;
  if (results.some((result) => result.outcome === "skip")) return 2;
  return 0;
}

export function renderJson(results: readonly CheckResult[], totalMs: number): string {
  return JSON.stringify({ ok: exitCode(results) === 0, exitCode: exitCode(results), ms: totalMs, checks: results }, null, 2);
}

/**
 * One row per check: name, ok/FAIL/skip, detail; under a failed or skipped
 * row, its fix. Long details wrap under their column rather than run off.
 */
export function renderTable(results: readonly CheckResult[], totalMs: number, width = 120): string {
  const nameWidth = Math.min(34, Math.max(5, ...results.map((result) => result.name.length)));
  const detailWidth = Math.max(40, width - nameWidth - 8);
  const indent = " ".repeat(nameWidth + 8);
  const lines = [`${"check".padEnd(nameWidth)}  ${"".padEnd(4)}  detail`];
  for (const result of results) {
    const [first = "", ...rest] = wrap(result.detail, detailWidth);
    lines.push(`${result.name.padEnd(nameWidth)}  ${result.outcome.padEnd(4)}  ${first}`);
    for (const line of rest) lines.push(`${indent}${line}`);
    if (result.fix !== undefined && result.outcome !== "ok") {
      for (const [index, line] of wrap(`fix: ${result.fix}`, detailWidth).entries()) lines.push(`${indent}${index === 0 ? "" : "     "}${line}`);
    }
  }
  const counts = (["ok", "FAIL", "skip"] as const).map((outcome) => `${results.filter((r) => r.outcome === outcome).length} ${outcome}`);
  lines.push("", `${counts.join(", ")} in ${(totalMs / 1000).toFixed(1)} s`);
  return lines.join("\n");
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(" ")) {
      if (line !== "" && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line === "" ? word : `${line} ${word}`;
    }
    lines.push(line);
  }
  return lines;
}
