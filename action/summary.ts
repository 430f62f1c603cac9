// The job summary: one table row per platform and links to the build. The
// table is built as data here (pure, tested) and written through
// core.summary in writeSummary.

import * as core from "@actions/core";
import type { BuildStateBody, PlatformState } from "../dispatcher/protocol/build-state.js";

export interface SummaryTable {
  heading: string;
  header: string[];
  rows: string[][];
  links: { text: string; href: string }[];
  note?: string;
}

const resultText: Readonly<Record<PlatformState["state"], string>> = {
  succeeded: "✅ succeeded",
  failed: "❌ failed",
  error: "⚠️ error",
  cancelled: "⏹️ cancelled",
  running: "⏳ running",
  queued: "⏳ queued",
};

const indexResult: Readonly<Record<string, string>> = { succeeded: "✅ pushed", pending: "⏳ pending", failed: "❌ not pushed", error: "⚠️ not pushed" };

export function summaryTable(build: BuildStateBody, options: { note?: string } = {}): SummaryTable {
  return {
    heading: `dockhand build ${build.id}: ${build.state}`,
    header: ["Platform", "Builder", "Node", "Duration", "Result", "Digest"],
    rows: build.platforms.map((p) => [
      escapeHtml(p.platform),
      escapeHtml(p.builder),
      escapeHtml(p.node ?? "—"),
      formatDuration(durationMs(p)),
      escapeHtml(`${resultText[p.state] ?? p.state}${p.message && p.state !== "succeeded" ? `: ${p.message}` : ""}`),
      p.digest ? `<code>${escapeHtml(p.digest)}</code>` : "—",
    ]).concat(
      build.manifest
        ? [[
            "image index",
            "—",
            "—",
            "—",
            escapeHtml(`${indexResult[build.manifest.state] ?? build.manifest.state}${build.manifest.message && build.manifest.state !== "succeeded" ? `: ${build.manifest.message}` : ""}`),
            build.manifest.digest ? `<code>${escapeHtml(build.manifest.digest)}</code>` : "—",
          ]]
        : [],
    ),
    links: [
      { text: "build", href: build.url },
      ...(build.targetUrl && build.targetUrl !== build.url ? [{ text: "build page", href: build.targetUrl }] : []),
      { text: "logs", href: build.logsUrl },
    ],
    ...(options.note ? { note: options.note } : {}),
  };
}

export function durationMs(platform: PlatformState): number | undefined {
  const start = Date.parse(platform.startedAt ?? platform.createdAt ?? "");
  const end = Date.parse(platform.finishedAt ?? "");
  return Number.isNaN(start) || Number.isNaN(end) ? undefined : Math.max(0, end - start);
}

/** `1m 05s`, `42s`, `—` */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "—";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** Appends the table to $GITHUB_STEP_SUMMARY; a runner without one (an old self-hosted runner) gets none. */
export async function writeSummary(table: SummaryTable): Promise<void> {
  if (!process.env["GITHUB_STEP_SUMMARY"]) return;
  const summary = core.summary
    .addHeading(escapeHtml(table.heading), 3)
    .addTable([table.header.map((data) => ({ data, header: true })), ...table.rows])
    .addRaw(table.links.map((l) => `<a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a>`).join(" · "), true);
  if (table.note) summary.addRaw(`<p>${escapeHtml(table.note)}</p>`, true);
  await summary.write();
}
