// The fault suite on the bed (issue 11): the dispatcher's commit-status
// promises under faults. Every scenario ends with the same check
// (promises.ts, expectPromisesKept): 0 lost finals, 0 duplicate finals, 0
// statuses out of order (pending first, nothing pending after a final, per
// build and context), every Job released (no dockhand.dev/report
// finalizer left, no build pod Pending or Running), and each Job recording
// the final GitHub shows (the record a restarted dispatcher starts from).
//
// 1. SIGKILL of the leader dispatcher process (run as its own process, as
//    `npm start` runs it) at random moments: while builds are being sent, a
//    random time after, right after GitHub answered a final status, and as
//    an index's pending goes out (GitHub never gets it); a new process (the
//    same pod name: a restarted container) after each.
// 2. GitHub answering 500, 502, 429 and 403 (secondary limit) in bursts,
//    some longer than the client's own retries, and connections cut before
//    a status is stored.
// 3. The bed's kube-apiserver killed mid-build, right after GitHub took a
//    result (before the dispatcher could record it), and started again.
//    The builds running through it end after it is back: the bed's node
//    agent does not write again a pod status the API server refused.
// 4. The bed's registry stopped right after a push, while the dispatcher
//    reads the pushed images back, and started again.
// 5. Two replicas: builds sent through the standby, which is SIGKILLed as
//    soon as it accepted them; the leader reports them.
//
// Counts: by default (and in CI) 15 builds and 4 kills in scenario 1, 32
// builds in all, the file in about 4 minutes on this 2-core machine;
// DOCKHAND_FAULTS=full runs 50 builds and 8 kills in scenario 1 (75 builds
// in all, longer GitHub bursts, 4 standby kills). DOCKHAND_FAULTS_SEED=<n>
// repeats a run's random kill moments (each run prints its seed);
// DOCKHAND_FAULTS_DEBUG=1 prints scenario 2's GitHub request timeline.
//
// Run it alone on a bed that is up:
//   DOCKHAND_BED_KEEP=1 npx vitest run --project bed test/faults/
// Scenarios 3 and 4 stop a bed component for a few seconds: other tests
// running on the same bed at that moment see it down too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dispatcherLeaseName } from "../../dispatcher/kube/leader-election.js";
import type { FailureKind } from "../github-standin/github-standin.js";
import { type Bed, freePort, setUpBed, writeConfigFile } from "../integration/harness.js";
import { type BuildKind, buildToSend, type BuildToSend, failedBuildTails, newSha, sendBuild } from "./builds.js";
import { bedApiServer, bedRegistry, bringBack, DispatcherProcess, logDir, stopBedComponent, type StoppedComponent, withBedComponentDown } from "./processes.js";
import { type AcceptedBuild, expectPromisesKept, summaryLine } from "./promises.js";

const full = process.env.DOCKHAND_FAULTS === "full";
const counts = full ? { killBuilds: 50, kills: 8 } : { killBuilds: 15, kills: 4 };
const seed = Number(process.env.DOCKHAND_FAULTS_SEED ?? Date.now() % 1_000_000);
const finals = new Set(["success", "failure", "error"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: a seeded random in [0, 1), so a failing run's kill moments can be repeated. */
function seeded(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(seed);
const between = (lo: number, hi: number) => lo + (hi - lo) * random();

beforeAll(() => {
  console.log(`[faults] ${full ? "full" : "default"} counts (DOCKHAND_FAULTS=full for the full run); seed ${seed} (DOCKHAND_FAULTS_SEED=${seed} repeats it)`);
});

/** The mix of builds: mostly COPY-only Linux, every fifth sleeping, some Windows on the dockerd pool, one index build per 20. */
function mix(n: number): BuildKind[] {
  return Array.from({ length: n }, (_, i): BuildKind => {
    if (i % 20 === 2) return { kind: "multi-run" };
    if (i % 5 === 0) return { kind: "linux-sleep", seconds: 2 + (i % 3) };
    if (i % 7 === 3) return { kind: "windows-run", version: i % 2 === 0 ? "ltsc2022" : "ltsc2019" };
    return { kind: "linux-copy" };
  });
}

/** Splits n items into `parts` batches as even as can be. */
function batches<T>(items: T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, p) => items.slice(Math.floor((p * items.length) / parts), Math.floor(((p + 1) * items.length) / parts)));
}

describe("1. the leader dispatcher SIGKILLed, and started again after each kill", () => {
  let bed: Bed;
  let dispatcher: DispatcherProcess;

  beforeAll(async () => {
    bed = await setUpBed("dh-faults-kill");
    const port = await freePort();
    dispatcher = new DispatcherProcess("leader", writeConfigFile(bed, port), port, logDir("kill"), "dockhand-faults-0");
  });

  afterAll(async () => {
    await dispatcher?.kill();
    await bed?.close();
  });

  it(`reports each of ${counts.killBuilds} builds exactly once, pending first, through ${counts.kills} kills`, async () => {
    const started = Date.now();
    const toSend = mix(counts.killBuilds);
    const rounds = batches(toSend.map((build, i) => ({ build, i })), counts.kills);
    const accepted: AcceptedBuild[] = [];
    const moments = ["during-send", "after-final", "index-pending", "random"] as const;
    const killed: string[] = [];
    await dispatcher.start();

    for (const [round, batch] of rounds.entries()) {
      const sha = newSha();
      const moment = moments[round % moments.length]!;
      // The index-pending kill needs an index build in its round.
      if (moment === "index-pending" && !batch.some((b) => b.build.kind === "multi-run")) batch[0]!.build = { kind: "multi-run" };
      const sends: BuildToSend[] = batch.map(({ build, i }) => buildToSend("kill", i, build, sha));
      let unanswered: BuildToSend[] = [];
      if (moment === "during-send") {
        // The kill lands while the builds are being sent: some requests get
        // no answer, and are sent again (same idempotency key) after the restart.
        const killAt = between(150, 1500);
        const kill = sleep(killAt).then(() => dispatcher.kill());
        for (const send of sends) {
          try {
            accepted.push(await sendBuild(bed, dispatcher.url, "kill", send));
          } catch {
            unanswered.push(send);
          }
        }
        await kill;
        killed.push(`during-send after ${(killAt / 1000).toFixed(1)} s (${unanswered.length} of ${sends.length} unanswered)`);
      } else {
        for (const send of sends) accepted.push(await sendBuild(bed, dispatcher.url, "kill", send));
        if (moment === "index-pending") {
          // As an index's pending goes out: GitHub never gets it (the
          // connection dies with the process), the dispatcher recorded it
          // on the Jobs first. The next one must still show pending before
          // the index's result, as it does for a platform's.
          const indexBuilds = new Set(accepted.slice(-sends.length).filter((b) => b.contexts.some((c) => c.endsWith("/manifest"))).map((b) => b.targetUrl));
          const dropped = new Promise<string>((resolve) => {
            bed.github.onStatusRequest((body) => {
              if (body.state !== "pending" || !String(body.context).endsWith("/manifest") || !indexBuilds.has(String(body.target_url))) return undefined;
              bed.github.onStatusRequest(undefined);
              void dispatcher.kill();
              resolve(`${String(body.context)} pending "${String(body.description)}"`);
              return "drop";
            });
          });
          const what = await Promise.race([dropped, sleep(60_000).then(() => undefined)]);
          bed.github.onStatusRequest(undefined);
          expect(what, "an index's pending within 60 s of sending the round's builds").toBeDefined();
          await dispatcher.kill();
          killed.push(`as ${what} went out (dropped)`);
        } else if (moment === "random") {
          const delay = between(300, 7000);
          await sleep(delay);
          await dispatcher.kill();
          killed.push(`random ${(delay / 1000).toFixed(1)} s after sending`);
        } else {
          // As soon as GitHub's 201 for a result has gone out: before the dispatcher can record it.
          const mine = new Set(accepted.map((b) => b.targetUrl));
          const answered = new Promise<string>((resolve) => {
            bed.github.onStatusAnswered((status) => {
              if (!finals.has(status.state) || !mine.has(status.target_url ?? "")) return;
              bed.github.onStatusAnswered(undefined);
              void dispatcher.kill();
              resolve(`${status.context} ${status.state}`);
            });
          });
          const what = await Promise.race([answered, sleep(60_000).then(() => undefined)]);
          bed.github.onStatusAnswered(undefined);
          expect(what, "a final status within 60 s of sending the round's builds").toBeDefined();
          await dispatcher.kill();
          killed.push(`right after GitHub answered ${what}`);
        }
      }
      // Builds go on while no dispatcher runs.
      await sleep(between(0, 2000));
      await dispatcher.start();
      for (const send of unanswered) accepted.push(await sendBuild(bed, dispatcher.url, "kill", send));
      unanswered = [];
    }

    const report = await expectPromisesKept(bed, accepted, { evidence: `dispatcher logs: ${dispatcher.logs.join(" ")}; kills: ${killed.join(" | ")}` });
    console.log(summaryLine("1 leader SIGKILLed", report, { kills: killed.length }, (Date.now() - started) / 1000));
    console.log(`[faults]   kills: ${killed.join(" | ")}`);
    // A build whose pod fetched its context while no dispatcher ran fails: the fault's doing, reported once like any result.
    for (const line of await failedBuildTails(dispatcher.url, accepted, bed.github.statuses())) console.log(`[faults]   failed: ${line}`);
    expect(killed).toHaveLength(counts.kills);
    expect(report.builds).toBe(counts.killBuilds);
  }, full ? 900_000 : 240_000);
});

describe("2. GitHub answering 500, 502, 429 and 403 in bursts", () => {
  let bed: Bed;
  let dispatcher: DispatcherProcess;

  beforeAll(async () => {
    bed = await setUpBed("dh-faults-github");
    const port = await freePort();
    dispatcher = new DispatcherProcess("dispatcher", writeConfigFile(bed, port), port, logDir("github"), "dockhand-faults-0");
  });

  afterAll(async () => {
    bed?.github.onStatusAnswered(undefined);
    bed?.github.onStatusRequest(undefined);
    await dispatcher?.kill();
    await bed?.close();
  });

  it("delivers every status once, pending first, whatever GitHub answers in between", async () => {
    const started = Date.now();
    // Each burst answers the next requests of any kind (status writes and
    // the exactly-once lookups alike), armed as the n-th status is stored.
    // The client retries a 5xx 3 times and a rate limit twice: the bursts of
    // 4 (and 5) and 3 outlast it, so the reconciler's own retry (and its lookup of
    // what GitHub already shows) has to deliver.
    const bursts: { afterStatus: number; n: number; kind: FailureKind }[] = [
      { afterStatus: 1, n: 4, kind: "server-error" },
      { afterStatus: 3, n: 2, kind: "bad-gateway" },
      { afterStatus: 5, n: 2, kind: "secondary-rate-limit-429" },
      { afterStatus: 7, n: 2, kind: "secondary-rate-limit" },
      { afterStatus: 9, n: 3, kind: "rate-limit" },
      ...(full
        ? [
            { afterStatus: 11, n: 3, kind: "server-error" as const },
            { afterStatus: 12, n: 5, kind: "bad-gateway" as const },
          ]
        : []),
    ];
    let stored = 0;
    bed.github.onStatusAnswered(() => {
      stored++;
      for (const burst of bursts) if (burst.afterStatus === stored) bed.github.failNext(burst.n, burst.kind, { retryAfterSeconds: 1 });
    });
    // And results whose connection is cut before GitHub stores them.
    const cuts = full ? 2 : 1;
    let drops = cuts;
    bed.github.onStatusRequest((body) => {
      if (drops === 0 || !finals.has(String(body.state))) return undefined;
      drops--;
      return "drop";
    });

    await dispatcher.start();
    const sha = newSha();
    const kinds: BuildKind[] = [
      { kind: "linux-copy" },
      { kind: "multi-run" },
      { kind: "linux-copy" },
      { kind: "windows-run", version: "ltsc2022" },
      { kind: "linux-sleep", seconds: 2 },
      { kind: "linux-copy" },
      ...(full ? ([{ kind: "linux-copy" }, { kind: "windows-run", version: "ltsc2019" }, { kind: "multi-run" }, { kind: "linux-copy" }] as const) : []),
    ];
    const accepted: AcceptedBuild[] = [];
    for (const [i, build] of kinds.entries()) accepted.push(await sendBuild(bed, dispatcher.url, "github", buildToSend("github", i, build, sha)));

    const report = await expectPromisesKept(bed, accepted, { evidence: `dispatcher log: ${dispatcher.logs.join(" ")}` });
    if (process.env.DOCKHAND_FAULTS_DEBUG) {
      const t0 = bed.github.requests()[0]?.receivedAt ?? 0;
      for (const r of bed.github.requests()) console.log(`${((r.receivedAt - t0) / 1000).toFixed(1)} ${r.method} ${r.operationId} ${r.status} ${r.injected ?? ""} ${JSON.stringify(r.body ?? "").slice(0, 120)}`);
    }
    const injected = bed.github.requests().filter((r) => r.injected !== undefined);
    const byKind = (kind: FailureKind) => injected.filter((r) => r.injected === kind).length;
    console.log(
      summaryLine("2 GitHub bursts", report, {
        "500s": byKind("server-error"),
        "502s": byKind("bad-gateway"),
        "429s": byKind("secondary-rate-limit-429"),
        "403s": byKind("secondary-rate-limit") + byKind("rate-limit"),
        "cut connections": cuts - drops,
      }, (Date.now() - started) / 1000),
    );
    // Every burst was answered: the faults really happened.
    expect(injected).toHaveLength(bursts.reduce((n, b) => n + b.n, 0));
    expect(drops).toBe(0);
    expect(dispatcher.running).toBe(true);
  }, 240_000);
});

describe("3. the Kubernetes API server killed mid-build and started again", () => {
  let bed: Bed;
  let dispatcher: DispatcherProcess;

  beforeAll(async () => {
    bed = await setUpBed("dh-faults-apiserver");
    const port = await freePort();
    dispatcher = new DispatcherProcess("dispatcher", writeConfigFile(bed, port), port, logDir("apiserver"), "dockhand-faults-0");
  });

  afterAll(async () => {
    bed?.github.onStatusAnswered(undefined);
    await dispatcher?.kill();
    await bed?.close();
  });

  it("reports every build once, pending first, when kube-apiserver dies right after GitHub took a result", async () => {
    const started = Date.now();
    await dispatcher.start();
    const sha = newSha();
    // The bed's node agent, unlike a kubelet, does not write a pod status
    // again that the API server refused (test/cluster/nodeagent/status_sync.go):
    // a build step ending while the API server is away would look Running
    // for ever. So the builds running through the outage end after it.
    const sleepSeconds = 45;
    const sentAt = Date.now();
    const accepted: AcceptedBuild[] = [];
    const sleepers: BuildKind[] = [
      { kind: "linux-sleep", seconds: sleepSeconds },
      { kind: "windows-run", version: "ltsc2022", seconds: sleepSeconds },
    ];
    for (const [i, build] of sleepers.entries()) accepted.push(await sendBuild(bed, dispatcher.url, "apiserver", buildToSend("apiserver", i, build, sha)));
    // Every sleeper's RUN step runs ("start <nonce>" in its log: plain on
    // dockerd, after "#5 0.21 " on BuildKit).
    await expect
      .poll(async () => {
        const logs = await Promise.all(accepted.map((b) => fetch(`${dispatcher.url}/v1/builds/${b.id}/logs`).then((r) => r.text())));
        return logs.every((text) => /"line":"(#\d+ [\d.]+ )?start apiserver-/.test(text));
      }, { timeout: 60_000, interval: 250 })
      .toBe(true);

    // A quick build: the moment GitHub's 201 for its result goes out, the API
    // server dies (SIGKILL), before the dispatcher can record that result on
    // its Job or let the Job go.
    const apiserver = bedApiServer(bed.env);
    const quick = await sendBuild(bed, dispatcher.url, "apiserver", buildToSend("apiserver", 2, { kind: "linux-copy" }, sha));
    accepted.push(quick);
    const killed = new Promise<StoppedComponent>((resolve, reject) => {
      bed.github.onStatusAnswered((status) => {
        if (status.target_url !== quick.targetUrl || !finals.has(status.state)) return;
        bed.github.onStatusAnswered(undefined);
        try {
          resolve(stopBedComponent(bed.env, apiserver, "SIGKILL"));
        } catch (err) {
          reject(err);
        }
      });
    });
    const stopped = await Promise.race([killed, sleep(60_000).then(() => undefined)]);
    bed.github.onStatusAnswered(undefined);
    expect(stopped, "the quick build's result within 60 s").toBeDefined();
    const outage = await bringBack(bed.env, apiserver, stopped!, 3_000);
    const backAt = Date.now();
    expect(backAt, `the API server was back ${((backAt - sentAt) / 1000).toFixed(0)} s after the sleepers were sent: they may have ended while it was away, which the bed's node agent cannot report (not a dispatcher fault)`).toBeLessThan(sentAt + (sleepSeconds - 5) * 1000);
    // The dispatcher lives through it (a crash here would be a restart in a real cluster; here it is a finding).
    expect(dispatcher.running, `dispatcher still running after the API server came back (log: ${dispatcher.logs.join(" ")})`).toBe(true);
    accepted.push(await sendBuild(bed, dispatcher.url, "apiserver", buildToSend("apiserver", 3, { kind: "multi-run" }, sha)));

    const report = await expectPromisesKept(bed, accepted, { evidence: `dispatcher log: ${dispatcher.logs.join(" ")}; apiserver log: ${bed.env.BED_DIR}/logs/apiserver.log` });
    console.log(
      summaryLine("3 kube-apiserver killed and restarted", report, { "apiserver away s": outage.downSeconds.toFixed(1), "of it starting s": outage.startSeconds.toFixed(1) }, (Date.now() - started) / 1000),
    );
    expect(dispatcher.running).toBe(true);
  }, 300_000);
});

describe("4. the registry down while the dispatcher reads pushed images back", () => {
  let bed: Bed;
  let dispatcher: DispatcherProcess;

  beforeAll(async () => {
    bed = await setUpBed("dh-faults-registry");
    const port = await freePort();
    // The platform check reads every pushed image back, single-platform
    // builds too; COPY-only builds on BuildKit push real linux and Windows images.
    const config = writeConfigFile(bed, port, (raw) => ({ ...raw, registry: { ...(raw.registry as object), validatePlatform: true } }));
    dispatcher = new DispatcherProcess("dispatcher", config, port, logDir("registry"), "dockhand-faults-0");
  });

  afterAll(async () => {
    await dispatcher?.kill();
    await bed?.close();
  });

  it("succeeds each pushed build once the registry is back, and reports it once, pending first", async () => {
    const started = Date.now();
    await dispatcher.start();
    const sha = newSha();
    const kinds: BuildKind[] = [{ kind: "multi-copy" }, { kind: "linux-copy" }, { kind: "linux-copy" }];
    const accepted: AcceptedBuild[] = [];
    const pushRefs: string[] = [];
    for (const [i, build] of kinds.entries()) {
      const b = await sendBuild(bed, dispatcher.url, "registry", buildToSend("registry", i, build, sha));
      accepted.push(b);
      const state = await (await fetch(`${dispatcher.url}/v1/builds/${b.id}`)).json();
      pushRefs.push(...state.platforms.map((p: { pushRef: string }) => p.pushRef));
    }
    // The moment the last push has landed (its tag written in the
    // registry's storage), before the dispatcher can read it back, the
    // registry goes.
    const root = /rootdirectory:\s*(\S+)/.exec(readFileSync(join(bed.env.BED_DIR, "registry", "config.yml"), "utf8"))![1]!;
    const tagLink = (ref: string) => {
      const [, repository, tag] = /^[^/]+\/(.+):([^:/]+)$/.exec(ref)!;
      return join(root, "docker/registry/v2/repositories", repository!, "_manifests/tags", tag!, "current/link");
    };
    const pushedWithin = Date.now() + 120_000;
    while (!pushRefs.every((ref) => existsSync(tagLink(ref)))) {
      if (Date.now() > pushedWithin) throw new Error(`not every push landed within 120 s: ${pushRefs.filter((r) => !existsSync(tagLink(r))).join(", ")}`);
      await sleep(20);
    }
    const seenReading = new Set<string>();
    const outage = await withBedComponentDown(bed.env, bedRegistry(bed.env), 8_000, async () => {
      // While it is down, the builds wait on the read-back (running, imageCheck pending), not fail.
      const until = Date.now() + 7_500;
      while (Date.now() < until) {
        for (const b of accepted) {
          const state = await (await fetch(`${dispatcher.url}/v1/builds/${b.id}`)).json();
          for (const p of state.platforms as { platform: string; imageCheck?: string }[]) if (p.imageCheck === "pending") seenReading.add(`${b.id} ${p.platform}`);
        }
        await sleep(250);
      }
    });

    const report = await expectPromisesKept(bed, accepted, { evidence: `dispatcher log: ${dispatcher.logs.join(" ")}` });
    console.log(
      summaryLine("4 registry down during read-back", report, { "registry down s": outage.downSeconds.toFixed(1), "platforms read back across it": seenReading.size }, (Date.now() - started) / 1000),
    );
    // The fault hit the read-back: at least the last push was waiting on it while the registry was down.
    expect(seenReading.size).toBeGreaterThan(0);
    // Every push landed before the registry went: a registry restart is
    // ridden out (read-back failures that can pass are retried), so each
    // build and the index succeed.
    expect(report.finalStates).toEqual({ success: report.contexts });
  }, 240_000);
});

describe("5. two replicas: the standby SIGKILLed right after it accepted builds", () => {
  let bed: Bed;
  let leader: DispatcherProcess;
  let standby: DispatcherProcess;
  const rounds = full ? 4 : 2;

  beforeAll(async () => {
    bed = await setUpBed("dh-faults-standby");
    const [leaderPort, standbyPort] = [await freePort(), await freePort()];
    // One Service in front of both, one ReadWriteMany volume for contexts:
    // the same publicUrl and contexts dir for both replicas.
    const shared = bed.rawConfig(leaderPort);
    const configFor = (port: number) =>
      writeConfigFile(bed, port, (raw) => ({ ...raw, publicUrl: shared.publicUrl, contexts: shared.contexts }));
    const dir = logDir("standby");
    leader = new DispatcherProcess("leader", configFor(leaderPort), leaderPort, dir, "dockhand-a");
    standby = new DispatcherProcess("standby", configFor(standbyPort), standbyPort, dir, "dockhand-b");
  });

  afterAll(async () => {
    await standby?.kill();
    await leader?.kill();
    await bed?.close();
  });

  it(`the leader reports pending then the result for builds the standby took before it died (${rounds} rounds)`, async () => {
    const started = Date.now();
    await leader.start();
    const api = bed.k.kc.makeApiClient(CoordinationV1Api);
    const holder = async () => (await api.readNamespacedLease({ name: dispatcherLeaseName, namespace: bed.namespace }).catch(() => undefined))?.spec?.holderIdentity;
    await expect.poll(holder, { timeout: 30_000, interval: 200 }).toBe("dockhand-a");
    const accepted: AcceptedBuild[] = [];
    const kinds: BuildKind[] = [{ kind: "linux-copy" }, { kind: "windows-run", version: "ltsc2019" }, { kind: "multi-run" }, { kind: "linux-sleep", seconds: 2 }];
    for (let round = 0; round < rounds; round++) {
      await standby.start();
      const sha = newSha();
      const first = await sendBuild(bed, standby.url, "standby", buildToSend("standby", round * 2, kinds[(round * 2) % kinds.length]!, sha));
      const second = await sendBuild(bed, standby.url, "standby", buildToSend("standby", round * 2 + 1, kinds[(round * 2 + 1) % kinds.length]!, sha));
      // Killed as soon as its 202 is in: it took the builds and is gone.
      await standby.kill();
      accepted.push(first, second);
      expect(await holder(), "the standby never led").toBe("dockhand-a");
    }

    const report = await expectPromisesKept(bed, accepted, { evidence: `logs: ${[...leader.logs, ...standby.logs].join(" ")}` });
    console.log(summaryLine("5 standby SIGKILLed after accepting", report, { "standby kills": rounds }, (Date.now() - started) / 1000));
    // Only the leader reported.
    expect(standby.countInLogs(/"msg":"commit status reported"/)).toBe(0);
    expect(leader.running).toBe(true);
  }, 240_000);
});
