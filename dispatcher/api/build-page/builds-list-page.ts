// The builds page: GET /v1/builds in a browser. Server-rendered from the same
// page of builds the JSON list answers (model/build-list.ts), with the
// filters as a plain GET form and the next page as a link; no script, so it
// works under a Content-Security-Policy that allows only its own inline
// style. A page with builds still running refreshes itself.

import type { BuildListQuery } from "../../protocol/build-list.js";
import type { BuildState } from "../../protocol/build-state.js";
import { isFinalPhase, platformPhases } from "../../protocol/phases.js";
import { builders } from "../../protocol/request-rules.js";
import { createdAtOf } from "../../model/build-list.js";
import { duration, escapeHtml } from "./page.js";
import { pageStyle } from "./page-style.js";

export interface BuildsPageInput {
  builds: readonly BuildState[];
  /** The filters as given (to refill the form and carry into the next page's link). */
  query: BuildListQuery;
  raw: Readonly<Record<string, string>>;
  next?: string;
  now: Date;
  nonce: string;
}

export function listPagePolicy(nonce: string): string {
  return ["default-src 'none'", `style-src 'nonce-${nonce}'`, "img-src data:", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'"].join("; ");
}

export function renderBuildsPage({ builds, raw, next, now, nonce }: BuildsPageInput): string {
  const e = escapeHtml;
  const running = builds.some((b) => !isFinalPhase(b.state));
  const keep = Object.entries(raw).filter(([key]) => key !== "cursor" && raw[key] !== "");
  const nextHref = next ? `?${new URLSearchParams([...keep, ["cursor", next]])}` : undefined;
  const field = (name: string) => e(raw[name] ?? "");
  const option = (name: string, values: readonly string[]) =>
    [`<option value="">any</option>`, ...values.map((v) => `<option${raw[name] === v ? " selected" : ""}>${e(v)}</option>`)].join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Builds · dockhand</title>
${running ? `<meta http-equiv="refresh" content="15">` : ""}
<style nonce="${e(nonce)}">${pageStyle}
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin: 1rem 0; }
form.filters label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
</style>
</head>
<body>
<header>
<p class="brand">dockhand</p>
<h1>Builds</h1>
</header>
<main>
<form class="filters" method="get" action="builds">
<label>Repository <input name="repository" value="${field("repository")}" placeholder="owner/name"></label>
<label>Commit <input name="sha" value="${field("sha")}" placeholder="full SHA" size="12"></label>
<label>State <select name="state">${option("state", platformPhases)}</select></label>
<label>Builder <select name="builder">${option("builder", builders)}</select></label>
<label>Since <input name="since" value="${field("since")}" placeholder="2026-12-04T00:00:00Z"></label>
<button type="submit">Filter</button>
</form>
<table class="builds">
<thead><tr><th>Build</th><th>State</th><th>Repository</th><th>Commit</th><th>Platforms</th><th>Created</th><th>Duration</th></tr></thead>
<tbody>
${builds.length === 0 ? `<tr><td colspan="7" class="none">No builds match.</td></tr>` : builds.map((b) => row(b, now)).join("\n")}
</tbody>
</table>
${nextHref ? `<p><a rel="next" href="${e(nextHref)}">Older builds</a></p>` : ""}
</main>
<footer><p>Newest first. The same list as JSON: <code>GET /v1/builds</code> (docs/api.md).</p></footer>
</body>
</html>
`;
}

function row(build: BuildState, now: Date): string {
  const e = escapeHtml;
  const created = createdAtOf(build);
  return `<tr data-build-id="${e(build.id)}">
<th><a href="builds/${e(build.id)}"><code>${e(build.id)}</code></a></th>
<td><span class="state state-${e(build.state)}" data-field="state">${e(build.state)}</span></td>
<td>${e(build.repository)}</td>
<td><code title="${e(build.sha)}">${e(build.sha.slice(0, 12))}</code> <span class="reason">${e(build.ref.replace(/^refs\/(heads|tags)\//, ""))}</span></td>
<td>${build.platforms.map((p) => `<span class="state state-${e(p.state)}" title="${e(`${p.platform} on ${p.builder}: ${p.state}`)}">${e(p.slug)}</span> <span class="reason">${e(p.builder)}</span>`).join("<br>")}</td>
<td>${created ? `<time datetime="${e(created)}">${e(created.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC"))}</time>` : ""}</td>
<td>${e(buildDuration(build, now))}</td>
</tr>`;
}

/** From the first platform's creation to the last one's end (or now, while it runs). */
function buildDuration(build: BuildState, now: Date): string {
  const ends = build.platforms.map((p) => p.finishedAt ?? "").filter((t) => t !== "").sort();
  return duration({ startedAt: createdAtOf(build), finishedAt: isFinalPhase(build.state) ? ends[ends.length - 1] : undefined }, now);
}
