import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { LogLine } from "../dispatcher/protocol/build-logs.js";
import type { BuildStateBody } from "../dispatcher/protocol/build-state.js";
import { secretAuth } from "./auth.js";
import { DispatcherClient } from "./client.js";
import { type LogEvent, LogCursor, LogDisplay, followLogs } from "./logs.js";

const platforms = [
  { platform: "windows/amd64:ltsc2022", slug: "win-ltsc2022" },
  { platform: "linux/amd64", slug: "linux-amd64" },
];
const build = { id: "abcdefabcdef", url: "http://d/v1/builds/abcdefabcdef", platforms } as unknown as BuildStateBody;
const line = (platform: string, step: string, n: number, text = `${step} ${n}`): LogLine => ({ platform, step, n, line: text });

describe("LogCursor", () => {
  it("builds the resume parameter from the last line seen per platform slug and step, and drops repeats", () => {
    const cursor = new LogCursor(build);
    expect(cursor.accept(line("windows/amd64:ltsc2022", "build", 1))).toBe(true);
    expect(cursor.accept(line("windows/amd64:ltsc2022", "build", 2))).toBe(true);
    expect(cursor.accept(line("linux/amd64", "build", 1))).toBe(true);
    expect(cursor.accept(line("windows/amd64:ltsc2022", "push-0", 1))).toBe(true);
    expect(cursor.accept(line("windows/amd64:ltsc2022", "build", 2))).toBe(false);
    expect(cursor.accept(line("windows/amd64:ltsc2022", "build", 1))).toBe(false);
    expect(cursor.resume()).toBe("win-ltsc2022/build:2,linux-amd64/build:1,win-ltsc2022/push-0:1");
  });
});

function recorder() {
  const out: string[] = [];
  return { out, output: { startGroup: (t: string) => out.push(`::group::${t}`), endGroup: () => out.push("::endgroup::"), info: (t: string) => out.push(t) } };
}

describe("LogDisplay: one group per platform", () => {
  it("shows a single platform live in one group, marking steps after the first", () => {
    const { out, output } = recorder();
    const display = new LogDisplay(output);
    display.line(line("linux/amd64", "build", 1, "step 1/2"));
    display.line(line("linux/amd64", "build", 2, "step 2/2"));
    display.line(line("linux/amd64", "push-0", 1, "pushed"));
    display.end();
    expect(out).toEqual(["::group::linux/amd64", "step 1/2", "step 2/2", "── step push-0 ──", "pushed", "::endgroup::"]);
  });

  it("keeps interleaved platforms apart: the first live, the others each in its own group when the live one finishes", () => {
    const { out, output } = recorder();
    const display = new LogDisplay(output);
    display.line(line("windows/amd64:ltsc2022", "build", 1, "w1"));
    display.line(line("linux/amd64", "build", 1, "l1"));
    display.line(line("windows/amd64:ltsc2022", "build", 2, "w2"));
    display.line(line("linux/amd64", "build", 2, "l2"));
    display.finished("windows/amd64:ltsc2022");
    // Linux is now live: its new lines follow straight away.
    display.line(line("linux/amd64", "build", 3, "l3"));
    display.end();
    expect(out).toEqual([
      "::group::windows/amd64:ltsc2022", "w1", "w2", "::endgroup::",
      "::group::linux/amd64", "l1", "l2", "l3", "::endgroup::",
    ]);
  });

  it("quotes the last lines of the failed step", () => {
    const display = new LogDisplay(recorder().output);
    for (let n = 1; n <= 30; n++) display.line(line("linux/amd64", "build", n, `line ${n}`));
    display.line(line("linux/amd64", "push-0", 1, "never pushed"));
    expect(display.lastLines("linux/amd64", "build")).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 11}`));
    expect(display.lastLines("linux/amd64")).toEqual(["never pushed"]);
  });
});

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/**
 * A log endpoint that serves `lines` honouring resume, but cuts the
 * connection after `cutAfter` lines of each response (mid-line, like a proxy
 * timing out), until the last response which ends with the end event.
 */
async function flakyLogServer(all: LogLine[], cutAfter: number, honourResume: boolean) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "", "http://x");
    requests.push(url.searchParams.get("resume") ?? "");
    const seen = new Map<string, number>();
    for (const part of (url.searchParams.get("resume") ?? "").split(",").filter(Boolean)) {
      const [key, n] = part.split(":");
      seen.set(key!, Number(n));
    }
    const slug = (p: string) => platforms.find((x) => x.platform === p)!.slug;
    const remaining = honourResume ? all.filter((l) => l.n > (seen.get(`${slug(l.platform)}/${l.step}`) ?? 0)) : all;
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const sendNow = remaining.slice(0, cutAfter);
    for (const l of sendNow) res.write(`${JSON.stringify(l)}\n`);
    if (remaining.length > cutAfter) {
      res.write('{"platform":"linux/amd64","st');
      setTimeout(() => res.destroy(), 20);
    } else {
      res.end(`${JSON.stringify({ event: "end", state: "succeeded" })}\n`);
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

async function collect(events: AsyncIterable<LogEvent>): Promise<LogEvent[]> {
  const all: LogEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

describe("followLogs: a dropped stream resumes without repeating a line", () => {
  const all = [
    line("windows/amd64:ltsc2022", "build", 1),
    line("linux/amd64", "build", 1),
    line("windows/amd64:ltsc2022", "build", 2),
    line("linux/amd64", "build", 2),
    line("windows/amd64:ltsc2022", "push-0", 1),
    line("linux/amd64", "build", 3),
    line("linux/amd64", "push-0", 1),
  ];

  it("reconnects with resume=<slug>/<step>:<n> and gets every line exactly once", async () => {
    const server = await flakyLogServer(all, 3, true);
    const client = new DispatcherClient({ baseUrl: server.url, auth: secretAuth("s") });
    const logs: string[] = [];
    const events = await collect(followLogs(client, build, { reconnectDelayMs: 10, log: (m) => logs.push(m) }));
    expect(events).toEqual([...all.map((l) => ({ kind: "line", line: l })), { kind: "end", state: "succeeded" }]);
    expect(server.requests).toEqual(["", "win-ltsc2022/build:2,linux-amd64/build:1", "win-ltsc2022/build:2,linux-amd64/build:3,win-ltsc2022/push-0:1"]);
    expect(logs[0]).toMatch(/^log stream interrupted \(.*\); resuming after win-ltsc2022\/build:2,linux-amd64\/build:1/);
  });

  it("drops repeats itself when a server ignores resume, and gives up on a stream that never progresses", async () => {
    // Every response starts over from line 1 and is cut after 4 lines.
    const server = await flakyLogServer(all, 4, false);
    const client = new DispatcherClient({ baseUrl: server.url, auth: secretAuth("s") });
    const events: LogEvent[] = [];
    const err = await (async () => {
      for await (const event of followLogs(client, build, { reconnectDelayMs: 10, maxReconnects: 3 })) events.push(event);
    })().catch((e: Error) => e);
    expect(events).toEqual(all.slice(0, 4).map((l) => ({ kind: "line", line: l })));
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^the log stream kept dropping .*; giving up on following build abcdefabcdef \(http:\/\/d\/v1\/builds\/abcdefabcdef\); the post step cancels it$/);
    // One response with progress, then three without: the limit.
    expect(server.requests.length).toBe(4);
  });

  async function endThenServer(platformStates: string[][]) {
    let calls = 0;
    const server = createServer((req, res) => {
      if (!req.url?.includes("/logs")) {
        const states = platformStates[Math.min(calls - 1, platformStates.length - 1)]!;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...build, state: "running", platforms: platforms.map((p, i) => ({ ...p, state: states[i] })) }));
        return;
      }
      calls++;
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      if (calls === 1) res.end(`${JSON.stringify(all[0])}\n${JSON.stringify({ event: "end", state: "running" })}\n`);
      else res.end(`${JSON.stringify(all[1])}\n${JSON.stringify({ event: "end", state: "failed" })}\n`);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new DispatcherClient({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, auth: secretAuth("s") });
  }

  it("waits quietly when the dispatcher ends the stream while a platform still runs, then resumes", async () => {
    const client = await endThenServer([["running", "succeeded"]]);
    const logs: string[] = [];
    const events = await collect(followLogs(client, build, { reconnectDelayMs: 10, waitDelayMs: 10, log: (m) => logs.push(m) }));
    expect(logs).toEqual(["the log is complete so far; waiting for the build (windows/amd64:ltsc2022: running)"]);
    expect(events).toEqual([{ kind: "line", line: all[0] }, { kind: "line", line: all[1] }, { kind: "end", state: "failed" }]);
  });

  it("ends when every platform has finished though the build waits (for its image index)", async () => {
    const client = await endThenServer([["succeeded", "succeeded"]]);
    const events = await collect(followLogs(client, build, { reconnectDelayMs: 10 }));
    expect(events).toEqual([{ kind: "line", line: all[0] }, { kind: "end", state: "running" }]);
  });
});
