// make bench's web app figures, as JSON on stdout:
//  - the first page's JavaScript: every script index.html loads or preloads, gzipped (level 9);
//  - navigation to the board drawn: from navigation start until its task cards are on screen,
//    a signed-in writer with 200 tasks, over loopback (7 runs, the median);
//  - Lighthouse performance and accessibility of the sign-in page and of the board (its default
//    mobile profile with simulated throttling), run offline with Debian's Chromium.
// usage: node web.mjs BASE_URL DIST_DIR EMAIL PASSWORD
import { chromium } from "playwright-core";
import { launch } from "chrome-launcher";
import lighthouse from "lighthouse";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const [base, dist, email, password] = process.argv.slice(2);
const chromePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const flags = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"];

// 1. The first page's script.
const html = readFileSync(join(dist, "index.html"), "utf8");
const scripts = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="([^"]+\.js)"/g)].map((m) => m[1]);
const firstPageScript = scripts.reduce((sum, src) => sum + gzipSync(readFileSync(join(dist, src)), { level: 9 }).length, 0);

// 2. Navigation to the board drawn.
const browser = await chromium.launch({ executablePath: chromePath, args: flags });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
await page.route("**/*", (route) => (new URL(route.request().url()).hostname === "127.0.0.1" ? route.continue() : route.abort()));
await page.goto(`${base}/signin`);
await page.getByLabel("Email").fill(email);
await page.getByLabel("Password").fill(password);
await page.getByRole("button", { name: "Sign in" }).click();
await page.locator(".card").first().waitFor();
const boardMs = [];
for (let run = 0; run < 7; run++) {
  await page.goto(`${base}/`, { waitUntil: "commit" });
  await page.locator(".card").first().waitFor();
  boardMs.push(await page.evaluate(() => performance.now()));
}
boardMs.sort((a, b) => a - b);
const cookies = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
await browser.close();

// 3. Lighthouse.
const chrome = await launch({ chromePath, chromeFlags: ["--headless=new", ...flags] });
const audit = async (path, headers) => {
  const result = await lighthouse(`${base}${path}`, {
    port: chrome.port, output: "json", logLevel: "error",
    onlyCategories: ["performance", "accessibility"], extraHeaders: headers,
  });
  const { categories, audits } = result.lhr;
  return {
    performance: Math.round(categories.performance.score * 100),
    accessibility: Math.round(categories.accessibility.score * 100),
    lcp_ms: Math.round(audits["largest-contentful-paint"].numericValue),
    tbt_ms: Math.round(audits["total-blocking-time"].numericValue),
  };
};
const lighthouseScores = { signin: await audit("/signin", {}), board: await audit("/", { Cookie: cookies }) };
await chrome.kill();

console.log(JSON.stringify({
  first_page_script_gzip_bytes: firstPageScript,
  first_page_scripts: scripts,
  board_drawn_ms: { median: Math.round(boardMs[3]), runs: boardMs.map(Math.round) },
  lighthouse: lighthouseScores,
}, null, 2));
