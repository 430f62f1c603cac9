// The build page in a real browser (headless Chromium) against the real
// dispatcher on the real bed: live logs over server-sent events while the
// build runs, the final state and digest once it ends, and the same page
// read with JavaScript off.
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, buildRequest, ctx, finalStates, postBuild, setUpBed, startBedDispatcher, uploadContext, waitForStatuses } from "../integration/harness.js";
import { launchChromium } from "./browser.js";

const screenshotPath = fileURLToPath(new URL("../../docs/build-page.png", import.meta.url));

let bed: Bed;
let dispatcher: Dispatcher;
let browser: Browser;
// A fresh value per run: the layer cache cannot replay the RUN step, so its
// output really is produced while the test watches.
const nonce = randomBytes(6).toString("hex");
// The shell computes 42, so the line is the step's output and not BuildKit
// echoing the command it is about to run.
const started = `started-${nonce}-42`;
const finished = `finished-${nonce}-42`;
const probe = "<img src=x onerror=window.pwned=1><script>window.pwned=1</script>";
let buildId: string;

beforeAll(async () => {
  bed = await setUpBed("dh-page");
  dispatcher = await startBedDispatcher(bed);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await dispatcher?.close();
  await bed?.close();
});

async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? "";
}

async function apiState(id: string): Promise<string> {
  const res = await fetch(`${dispatcher.url}/v1/builds/${id}`, { headers: { accept: "application/json" } });
  return (await res.json()).state;
}

describe("the build page", () => {
  it("shows a running build's log lines as they are printed, then its final state and digest", async () => {
    const context = await uploadContext(
      dispatcher.url,
      ctx(
        `FROM ${bed.env.LINUX_BASE_IMAGE}\n` +
          `RUN echo "started-${nonce}-$((6*7))" && echo '${probe}' && sleep 8 && echo "finished-${nonce}-$((6*7))" > /done.txt && cat /done.txt\n`,
      ),
    );
    const res = await postBuild(
      dispatcher.url,
      buildRequest(context, {
        repository: "octo-org/windows-app",
        platforms: ["linux/amd64", "windows/amd64:ltsc2022"],
        tags: [`${bed.env.REGISTRY}/bed/page:${nonce}`],
        idempotencyKey: `page/${nonce}`,
      }),
    );
    expect(res.status).toBe(202);
    buildId = res.body.id;

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(String(err)));
    const response = await page.goto(`${dispatcher.url}/v1/builds/${buildId}`);
    expect(response?.headers()["content-type"]).toMatch(/^text\/html/);
    // Opened before any output: everything after this comes over the event stream.
    expect(["queued", "running"]).toContain(await textOf(page, "#build-state"));

    for (const slug of ["linux-amd64", "win-ltsc2022"]) {
      await page.waitForFunction(
        ([selector, text]) => document.querySelector(selector!)?.textContent?.includes(text!) ?? false,
        [`#log-${slug} pre`, started],
        { timeout: 180_000, polling: 100 },
      );
    }
    // The step sleeps 8 s after that line: the build is still running, on the page and in the API.
    expect(await apiState(buildId)).toBe("running");
    expect(await textOf(page, "#build-state")).toBe("running");
    expect(await page.locator("#live").isVisible()).toBe(true);
    expect(await textOf(page, "#log-linux-amd64 pre")).not.toContain(finished);

    // The page follows the build to its end without a reload.
    await page.waitForFunction(() => document.getElementById("build-state")?.textContent === "succeeded", undefined, { timeout: 180_000 });
    await page.waitForFunction(() => document.querySelectorAll('[data-field="digest"] code').length === 2, undefined, { timeout: 60_000 });
    const api = await (await fetch(`${dispatcher.url}/v1/builds/${buildId}`)).json();
    for (const platform of api.platforms) {
      const row = page.locator(`tr[data-slug="${platform.slug}"]`);
      expect(await row.locator('[data-field="state"]').textContent()).toBe("succeeded");
      expect(await row.locator('[data-field="digest"]').textContent()).toBe(platform.digest);
      expect(await row.locator('[data-field="node"]').textContent()).toBe(platform.node);
    }
    expect(await textOf(page, "#log-linux-amd64 pre")).toContain(finished);
    // The probe is shown as text and never ran.
    expect(await textOf(page, "#log-linux-amd64 pre")).toContain(probe);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(errors).toEqual([]);

    await page.screenshot({ path: screenshotPath, fullPage: false });
    await page.close();
  });

  it("reads without JavaScript once the build has ended: state, digest and the full logs", async () => {
    expect(buildId).toBeTruthy();
    // Both platforms and the build's index (dockhand/manifest) are final.
    await waitForStatuses(bed.github, (s) => s.filter((x) => x.target_url?.endsWith(buildId) && finalStates.has(x.state)).length === 3);
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${dispatcher.url}/v1/builds/${buildId}`);
    const api = await (await fetch(`${dispatcher.url}/v1/builds/${buildId}`)).json();
    expect(await textOf(page, "#build-state")).toBe("succeeded");
    for (const platform of api.platforms) {
      expect(platform.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const row = page.locator(`tr[data-slug="${platform.slug}"]`);
      expect(await row.locator('[data-field="state"]').textContent()).toBe("succeeded");
      expect(await row.locator('[data-field="digest"]').textContent()).toBe(platform.digest);
      expect(await row.textContent()).toContain(platform.builder);
      const log = await textOf(page, `#log-${platform.slug} pre`);
      expect(log).toContain(started);
      expect(log).toContain(finished);
      expect(log).toContain(probe);
    }
    expect(await page.locator("img").count()).toBe(0);
    await context.close();
  });

  it("still answers API clients with JSON at the same URL", async () => {
    for (const accept of [undefined, "*/*", "application/json"]) {
      const res = await fetch(`${dispatcher.url}/v1/builds/${buildId}`, { headers: accept ? { accept } : {} });
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect((await res.json()).id).toBe(buildId);
    }
  });
});
