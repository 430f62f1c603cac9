// The build page, rendered on the server: everything a finished build has to
// say is in the HTML itself, so it reads without JavaScript (and in a mail
// client or a terminal browser). The inline script only makes it live.
// Pure: a build state and its log lines in, a string out.

import { type LogLine, resumeCursor } from "../../protocol/build-logs.js";
import type { BuildState, PlatformState } from "../../protocol/build-state.js";
import { isFinalPhase } from "../../protocol/phases.js";
import { pageScript } from "./page-script.js";
import { pageStyle } from "./page-style.js";

export interface PageInput {
  build: BuildState;
  /** Every line the server has so far, in order; the stream resumes after them. */
  lines: LogLine[];
  now: Date;
  /** A fresh value per response: only inline code carrying it may run (Content-Security-Policy). */
  nonce: string;
}

/** Everything interpolated into the page goes through this: repository names, refs, log lines, messages. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Lines seen per "<slug>/<step>", in the form GET /v1/builds/{id}/logs?resume= and the event stream take. */
export function lineCounts(build: BuildState, lines: LogLine[]): Map<string, number> {
  const slugOf = new Map(build.platforms.map((p) => [p.platform, p.slug]));
  const counts = new Map<string, number>();
  for (const line of lines) {
    const key = `${slugOf.get(line.platform) ?? "unknown"}/${line.step}`;
    counts.set(key, Math.max(counts.get(key) ?? 0, line.n));
  }
  return counts;
}

/** Content-Security-Policy for the page: nothing external, only our own inline code, streams from this origin. */
export function pagePolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function renderBuildPage({ build, lines, now, nonce }: PageInput): string {
  const e = escapeHtml;
  const finished = isFinalPhase(build.state);
  const title = `${build.repository} ${build.sha.slice(0, 7)}: ${build.state}`;
  const linesByPlatform = new Map<string, LogLine[]>();
  for (const line of lines) {
    const list = linesByPlatform.get(line.platform) ?? [];
    list.push(line);
    linesByPlatform.set(line.platform, list);
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${e(title)} · dockhand</title>
${finished ? "" : `<noscript><meta http-equiv="refresh" content="10"></noscript>`}
<style nonce="${e(nonce)}">${pageStyle}</style>
</head>
<body data-build-id="${e(build.id)}" data-state="${e(build.state)}" data-resume="${e(resumeCursor(lineCounts(build, lines)))}" data-events="${e(`${build.id}/events`)}">
<header>
<p class="brand">dockhand build <code>${e(build.id)}</code></p>
<h1>${e(build.repository)}</h1>
<p class="commit"><span>${e(shortRef(build.ref))}</span> at <code title="${e(build.sha)}">${e(build.sha.slice(0, 12))}</code></p>
<p>Build: ${badge(build.state, "build-state")} <span id="live" class="live" hidden>live</span></p>
</header>
<main>
<table class="platforms">
<thead><tr><th>Platform</th><th>State</th><th>Builder</th><th>Node</th><th>Duration</th><th>Digest</th></tr></thead>
<tbody>
${build.platforms.map((p) => platformRow(p, now)).join("\n")}
</tbody>
</table>
${build.platforms.map((p) => logSection(p, linesByPlatform.get(p.platform) ?? [])).join("\n")}
</main>
<footer><p>${finished ? "This build has ended; the page shows its full logs." : "The page follows the build as it runs."} <a href="${e(`${build.id}/logs`)}">Raw logs (NDJSON)</a></p></footer>
<script nonce="${e(nonce)}">${pageScript}</script>
</body>
</html>
`;
}

function badge(state: string, id?: string): string {
  return `<span class="state state-${escapeHtml(state)}"${id ? ` id="${id}"` : ""} data-field="state">${escapeHtml(state)}</span>`;
}

function platformRow(p: PlatformState, now: Date): string {
  const e = escapeHtml;
  const digest = p.digest
    ? `<code class="digest" title="${e(p.pushRef ? `${p.pushRef}@${p.digest}` : p.digest)}">${e(p.digest)}</code>`
    : `<span class="none">${isFinalPhase(p.state) ? "none" : "not yet"}</span>`;
  const message = `<p class="message" data-field="message">${e(p.message ?? "")}</p>`;
  return `<tr data-slug="${e(p.slug)}" data-platform="${e(p.platform)}" data-started="${e(p.startedAt ?? "")}" data-finished="${e(p.finishedAt ?? "")}">
<th scope="row"><a href="#log-${e(p.slug)}">${e(p.platform)}</a></th>
<td>${badge(p.state)}${message}</td>
<td><strong>${e(p.builder)}</strong><p class="reason">${e(p.builderReason)}</p></td>
<td data-field="node">${p.node ? e(p.node) : '<span class="none">not scheduled</span>'}</td>
<td data-field="duration">${e(duration(p, now))}</td>
<td data-field="digest">${digest}</td>
</tr>`;
}

function logSection(p: PlatformState, lines: LogLine[]): string {
  const e = escapeHtml;
  const body = lines.map((l) => `<span class="line"><span class="step">${e(l.step)}</span>${e(l.line)}</span>`).join("\n");
  return `<section class="logs" id="log-${e(p.slug)}">
<h2>Logs: ${e(p.platform)}</h2>
<pre data-platform="${e(p.platform)}">${body}${lines.length === 0 ? `<span class="empty">${isFinalPhase(p.state) ? "No output." : "Waiting for output…"}</span>` : ""}</pre>
</section>`;
}

/** From the pod's start to the end (or now, while it runs); empty before it starts. */
export function duration(p: Pick<PlatformState, "startedAt" | "finishedAt">, now: Date): string {
  const start = Date.parse(p.startedAt ?? "");
  if (!Number.isFinite(start)) return "";
  const end = Date.parse(p.finishedAt ?? "");
  const seconds = Math.max(0, Math.round(((Number.isFinite(end) ? end : now.getTime()) - start) / 1000));
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m}m ${String(seconds % 60).padStart(2, "0")}s` : `${seconds}s`;
}

function shortRef(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, "");
}
