// The builds page (GET /v1/builds in a browser) in headless Chromium against
// the real dispatcher on the bed: recent builds with state, platforms and
// links, the filter form, paging, no script run from build data; closed to a
// browser without credentials unless auth.buildList is open.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Dispatcher } from "../../dispatcher/dispatcher.js";
import { type Bed, buildRequest, ctx, postBuild, setUpBed, startBedDispatcher, uploadContext } from "../integration/harness.js";
import { launchChromium } from "./browser.js";

let bed: Bed;
let open: Dispatcher;
let closed: Dispatcher;
let browser: Browser;
const ids: string[] = [];
// A ref is the caller's text: the page must show it, never run it.
const probeRef = `refs/heads/x"><svg/onload=window.pwned=1>`;

beforeAll(async () => {
  bed = await setUpBed("dh-builds-page");
  open = await startBedDispatcher(bed, (config) => ({ ...config, auth: { ...config.auth, buildList: "open" } }));
  closed = await startBedDispatcher(bed);
  browser = await launchChromium();
  const context = await uploadContext(open.url, ctx(`FROM ${bed.env.LINUX_BASE_IMAGE}\nCOPY hello.txt /hello.txt\n`, { "hello.txt": "hi\n" }));
  for (const [i, repository] of ["octo-org/web", "octo-org/api", "octo-org/web"].entries()) {
    const res = await postBuild(open.url, buildRequest(context, { repository, sha: String(i + 1).repeat(40), ref: i === 2 ? probeRef : "refs/heads/main", platforms: ["linux/amd64"], push: false, idempotencyKey: `page/${i}` }));
    if (res.status !== 202) throw new Error(`build ${i}: ${JSON.stringify(res.body)}`);
    ids.push(res.body.id);
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await open?.close();
  await closed?.close();
  await bed?.close();
});

describe("the builds page", () => {
  it("lists recent builds newest first, each linking to its build page, without running what a build carries", async () => {
    const page = await browser.newPage();
    await expect.poll(async () => {
      await page.goto(`${open.url}/v1/builds`);
      return page.locator("tbody tr[data-build-id]").count();
    }, { timeout: 30_000 }).toBe(3);
    expect(await page.locator("tbody tr[data-build-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-build-id")))).toEqual([ids[2], ids[1], ids[0]]);
    const first = page.locator("tbody tr").first();
    expect(await first.locator("td").nth(1).textContent()).toBe("octo-org/web");
    expect(await first.textContent()).toContain("linux-amd64");
    expect(await first.textContent()).toContain('x"><svg/onload=window.pwned=1>');
    expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();

    await first.locator("a").first().click();
    await page.waitForURL(`${open.url}/v1/builds/${ids[2]}`);
    expect(await page.locator("h1").textContent()).toBe("octo-org/web");
    await page.close();
  });

  it("filters with its form and pages to older builds", async () => {
    const page = await browser.newPage();
    await page.goto(`${open.url}/v1/builds?limit=1`);
    await page.fill("input[name=repository]", "octo-org/web");
    await page.click("button[type=submit]");
    await page.waitForURL(/repository=octo-org%2Fweb/);
    // The form drops limit: a full page of the two web builds.
    expect(await page.locator("tbody tr[data-build-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-build-id")))).toEqual([ids[2], ids[0]]);

    await page.goto(`${open.url}/v1/builds?limit=2`);
    await page.click("a[rel=next]");
    expect(await page.locator("tbody tr[data-build-id]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-build-id")))).toEqual([ids[0]]);
    expect(await page.locator("a[rel=next]").count()).toBe(0);
    await page.close();
  });

  it("answers JSON to API clients at the same URL, and varies on Accept", async () => {
    const res = await fetch(`${open.url}/v1/builds?limit=1`, { headers: { accept: "application/json" } });
    expect(res.headers.get("vary")).toContain("Accept");
    expect((await res.json()).builds).toHaveLength(1);
  });

  it("is closed to a browser without credentials by default (auth.buildList: authenticated)", async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${closed.url}/v1/builds`);
    expect(response?.status()).toBe(401);
    await page.close();
  });
});
