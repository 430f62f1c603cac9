// `dockhand`: the operator's command line. builds / logs / cancel talk to a
// dispatcher through the Action's own client (action/client.ts: retries,
// proxies, request signing), so the CLI and the workflow step cannot disagree
// about the API; doctor checks a deployment from this machine's kubeconfig.
//
// Arguments are parsed with node:util parseArgs: the handful of flags here
// needs nothing a dependency would add.

import { parseArgs } from "node:util";
import { type RequestAuth, secretAuth } from "../../action/auth.js";
import { DispatcherClient, DispatcherRequestError } from "../../action/client.js";
import { followLogs } from "../../action/logs.js";
import type { BuildStateBody } from "../protocol/build-state.js";
import { isFinalPhase } from "../protocol/phases.js";

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  /** `dockhand doctor …`: runs the deployment checks, resolves the exit code. */
  doctor?: (args: string[]) => Promise<number>;
}

export const usage = `usage: dockhand <command> [options]

commands:
  builds [--repository owner/name] [--sha SHA] [--state STATE] [--builder docker|buildkit|buildkit-windows]
         [--since RFC3339] [--limit N] [--cursor NEXT] [--all]
                      the builds your credentials cover, newest first
  logs <build-id>     a build's log lines, followed to its end (exit 0 if it succeeded)
  cancel <build-id>   cancel a build
  doctor [--config FILE] [--build] [--output json]
                      check a deployment end to end (see docs/deploy.md)

options for builds, logs, cancel:
  --url URL           the dispatcher (default: $DOCKHAND_URL)
  --output table|json (default: table)
credentials: $DOCKHAND_SHARED_SECRET (a shared secret of auth.sharedSecrets) or
$DOCKHAND_TOKEN (a GitHub Actions OIDC token for auth.oidc.audience).`;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "builds":
        return await builds(rest, io);
      case "logs":
        return await logs(rest, io);
      case "cancel":
        return await cancel(rest, io);
      case "doctor":
        if (!io.doctor) throw new UsageError("doctor is not available in this build of the CLI; run it from a checkout or the dispatcher image");
        return await io.doctor(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.out(usage);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`dockhand: ${err.message}\n\n${usage}`);
      return 2;
    }
    if (err instanceof DispatcherRequestError) {
      io.err(`dockhand: ${err.message}`);
      return 1;
    }
    // parseArgs names the flag it does not know; anything else is the dispatcher or the network.
    io.err(`dockhand: ${err instanceof Error ? err.message : String(err)}`);
    return (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
  }
}

class UsageError extends Error {}

const common = {
  url: { type: "string" },
  output: { type: "string", default: "table" },
} as const;

function connect(values: { url?: string; output?: string }, io: CliIo): { client: DispatcherClient; json: boolean } {
  const url = values.url ?? io.env["DOCKHAND_URL"];
  if (!url) throw new UsageError("no dispatcher: pass --url https://dockhand.example or set DOCKHAND_URL");
  if (values.output !== "table" && values.output !== "json") throw new UsageError(`--output ${JSON.stringify(values.output)}: use table or json`);
  return { client: new DispatcherClient({ baseUrl: url, auth: credentials(io.env), userAgent: "dockhand-cli", retry: { attempts: 3 } }), json: values.output === "json" };
}

function credentials(env: NodeJS.ProcessEnv): RequestAuth {
  const secret = env["DOCKHAND_SHARED_SECRET"];
  const token = env["DOCKHAND_TOKEN"];
  if (secret && token) throw new UsageError("both DOCKHAND_SHARED_SECRET and DOCKHAND_TOKEN are set: keep one");
  if (secret) return secretAuth(secret);
  if (token) return { headers: async () => ({ authorization: `Bearer ${token}` }) };
  // Reads by id may work without credentials (auth.buildReads: capability); the dispatcher says when not.
  return { headers: async () => ({}) };
}

async function builds(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: {
      ...common,
      repository: { type: "string" },
      sha: { type: "string" },
      state: { type: "string" },
      builder: { type: "string" },
      since: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
      all: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(`builds takes no arguments, only options (got ${positionals.join(" ")})`);
  const { client, json } = connect(values, io);
  try {
    const query = { repository: values.repository, sha: values.sha, state: values.state, builder: values.builder, since: values.since, limit: values.limit };
    const found: BuildStateBody[] = [];
    let cursor = values.cursor;
    let next: string | undefined;
    // --all follows `next` to the end; without it, one page and the cursor of the next.
    for (let pages = 0; pages < 1000; pages++) {
      const page = await client.listBuilds({ ...query, cursor });
      found.push(...page.builds);
      next = page.next;
      if (!values.all || next === undefined) break;
      cursor = next;
    }
    if (json) io.out(JSON.stringify({ builds: found, ...(next && !values.all ? { next } : {}) }, null, 2));
    else {
      io.out(buildsTable(found));
      if (next && !values.all) io.out(`more: dockhand builds --cursor ${next} (or --all)`);
    }
    return 0;
  } finally {
    client.close();
  }
}

export function buildsTable(builds: readonly BuildStateBody[]): string {
  const rows = builds.map((build) => {
    const created = build.platforms.map((p) => p.createdAt ?? "").filter(Boolean).sort()[0] ?? "";
    const ends = build.platforms.map((p) => p.finishedAt ?? "").filter(Boolean).sort();
    const duration = created && isFinalPhase(build.state) && ends.length > 0 ? formatDuration(Date.parse(ends[ends.length - 1]!) - Date.parse(created)) : "";
    return [build.id, build.state, build.repository, build.sha.slice(0, 12), build.platforms.map((p) => `${p.slug}(${p.builder})`).join(" "), created, duration];
  });
  const header = ["ID", "STATE", "REPOSITORY", "SHA", "PLATFORMS", "CREATED", "DURATION"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

async function logs(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: common, allowPositionals: true });
  const id = oneBuildId(positionals, "logs");
  const { client, json } = connect(values, io);
  try {
    const build = await client.getBuild(id);
    if (!build) throw new DispatcherRequestError(404, { error: `build ${id} not found`, hint: "check the id with dockhand builds" }, "read the build");
    // As the Action follows a build: every line once, across dropped streams, to the build's end.
    for await (const event of followLogs(client, build, { log: (message) => io.err(message) })) {
      if (event.kind === "line") {
        io.out(json ? JSON.stringify(event.line) : `${event.line.platform} ${event.line.step} | ${event.line.line}`);
        continue;
      }
      if (json) io.out(JSON.stringify({ event: "end", state: event.state }));
      else io.err(`build ${id}: ${event.state}`);
      return event.state === "succeeded" ? 0 : 1;
    }
    return 0;
  } finally {
    client.close();
  }
}

async function cancel(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], options: common, allowPositionals: true });
  const id = oneBuildId(positionals, "cancel");
  const { client, json } = connect(values, io);
  try {
    const build = await client.cancelBuild(id);
    if (!build) throw new DispatcherRequestError(404, { error: `build ${id} not found`, hint: "it may have ended and been deleted; check with dockhand builds" }, "cancel the build");
    io.out(json ? JSON.stringify(build, null, 2) : `build ${id}: cancelling (${build.platforms.map((p) => `${p.slug} ${p.state}`).join(", ")})`);
    return 0;
  } finally {
    client.close();
  }
}

function oneBuildId(positionals: readonly string[], command: string): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one build id (from dockhand builds), got ${positionals.length}`);
  return positionals[0]!;
}
