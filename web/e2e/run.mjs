// The web app end to end: Debian's Chromium (playwright-core) against a real local-api on real
// Postgres and LocalStack, every request off this machine refused. A writer's whole life in the
// app, an administrator's, and on every page an accessibility check (axe-core: no serious or
// critical violation), no console error, and screenshots at desktop and phone width.
// scripts/web-e2e.sh starts the stack and sets the environment.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const base = process.env.WEB_BASE_URL;
const sesUrl = process.env.SES_URL;
const shots = process.env.SHOTS;
const fixtures = process.env.FIXTURES;
const admin = { email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD };
const run = Date.now().toString(36);
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

const problems = [];
const step = (text) => console.log(`web e2e: ${text}`);
// Statuses the app is expected to meet at this moment (a wrong password on purpose, a session
// ended on purpose): Chromium logs each failed response to the console, and only these are allowed.
let expectedStatuses = new Set();
const expecting = async (statuses, action) => {
  expectedStatuses = new Set(statuses);
  try {
    return await action();
  } finally {
    expectedStatuses = new Set();
  }
};

async function newPage(name, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Europe/London" });
  const page = await context.newPage();
  const remote = [];
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    remote.push(url.href);
    return route.abort();
  });
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    const status = /status of (\d{3})/.exec(text)?.[1];
    if (status && expectedStatuses.has(Number(status))) return;
    problems.push(`${name}: console error on ${page.url()}: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`${name}: uncaught ${error.message} on ${page.url()}`));
  page.remote = remote;
  pages.push(page);
  return page;
}

async function violations(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const report = await axe.run(document, { resultTypes: ["violations"] });
    return report.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`);
  });
}

/** axe-core on the page as it stands (light and dark), and screenshots: desktop, phone, dark. */
async function check(page, label) {
  for (const violation of await violations(page)) problems.push(`${label}: accessibility: ${violation}`);
  const viewport = page.viewportSize();
  await page.screenshot({ path: join(shots, `${label}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 812 });
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const by = document.documentElement.scrollWidth - width;
    if (by <= 1) return null;
    // The innermost element that sticks out, to name in the failure.
    const out = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > width + 1 && ![...e.children].some((c) => c.getBoundingClientRect().right > width + 1));
    const name = (e) => `${e.tagName.toLowerCase()}${e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""}`;
    return `${by} px (${out.slice(0, 3).map(name).join(", ")})`;
  });
  if (overflow) problems.push(`${label}: at 375 px the page scrolls sideways by ${overflow}`);
  await page.screenshot({ path: join(shots, `${label}-phone.png`), fullPage: true });
  await page.setViewportSize(viewport);
  // Dark mode follows the system: its colours must pass the same check.
  await page.emulateMedia({ colorScheme: "dark" });
  for (const violation of await violations(page)) problems.push(`${label} (dark): accessibility: ${violation}`);
  await page.screenshot({ path: join(shots, `${label}-dark.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
}

const pages = [];
const fail = async (message) => {
  console.error(`web e2e: FAILED: ${message}`);
  for (const [n, p] of pages.entries()) {
    await p.screenshot({ path: join(shots, `failure-${n}.png`), fullPage: true }).catch(() => {});
    console.error(`  page ${n} at ${p.url()}: screenshot failure-${n}.png`);
  }
  for (const p of problems) console.error(`  - ${p}`);
  await browser.close();
  process.exit(1);
};

async function mail(to, after) {
  for (let i = 0; i < 120; i++) {
    const response = await fetch(sesUrl);
    const { messages } = await response.json();
    const mine = messages.filter((m) => (m.Destination?.ToAddresses ?? []).includes(to) && Date.parse(m.Timestamp) >= after - 5000);
    const link = mine.length ? /(https?:\/\/\S+\/reset#token=[A-Za-z0-9_-]+)/.exec(mine.at(-1).Body?.text_part ?? "")?.[1] : null;
    if (link) return link;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no reset email reached ${to}`);
}

async function signUp(page, who) {
  await page.goto(`${base}/signup`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Full name (optional)").fill(who.name);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Your tasks" }).waitFor();
}

async function signIn(page, who) {
  await page.goto(`${base}/signin`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Your tasks" }).waitFor();
}

/** Waits until the upload's bar has moved: the writer saw progress. */
async function sawProgress(page) {
  await page.waitForFunction(() => {
    const bar = document.querySelector('[role="progressbar"][aria-label="Upload progress"]');
    return bar && Number(bar.getAttribute("aria-valuenow")) > 0;
  }, null, { timeout: 30000 });
}

try {
  const writer = { email: `writer-${run}@example.com`, username: `writer_${run}`, name: "Parvin Etesami", password: "a long and happy password" };
  const page = await newPage("writer");

  // Signed out: the sign-in, sign-up and forgotten-password pages.
  step("the pages a visitor sees");
  await page.goto(`${base}/`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await check(page, "signin");
  await page.goto(`${base}/signup`);
  await check(page, "signup");
  await page.goto(`${base}/forgot`);
  await check(page, "forgot");

  step("sign up; the empty board says what to do first");
  await signUp(page, writer);
  await page.getByRole("heading", { name: "Start with your first task" }).waitFor();
  await check(page, "board-empty");

  step("a task with a .docx, its upload's progress, then its chapters and words");
  await page.getByRole("link", { name: "New task" }).first().click();
  // The page loads on demand; until it is drawn the board (whose "Search titles" also matches
  // a loose "Title") stays on screen.
  await page.getByRole("heading", { name: "New task" }).waitFor();
  await page.getByLabel("Title", { exact: true }).fill("رمان من: the novel");
  await page.getByLabel("Word target").fill("2000");
  const due = new Date(Date.now() + 10 * 86400000).toISOString().slice(0, 10);
  await page.getByLabel("Due date").fill(due);
  await page.getByLabel("Manuscript (optional)").setInputFiles(join(fixtures, "manuscript.docx"));
  await check(page, "new-task");
  // A slow uplink, so the bar has time to move before the page moves on.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 8 * 1024 });
  await page.getByRole("button", { name: "Create task" }).click();
  await sawProgress(page);
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.getByRole("table", { name: "Chapters" }).waitFor({ timeout: 30000 });
  const title = page.getByRole("heading", { level: 1 });
  if ((await title.getAttribute("dir")) !== "auto") problems.push("the task's title does not follow its text's direction (dir=auto)");
  const words = await page.locator(".figures").textContent();
  if (!/Words\d/.test(words.replace(/\s/g, ""))) problems.push(`the task page shows no word count: ${words}`);
  await check(page, "task");

  step("a second draft, and the chart of words across drafts");
  await page.getByLabel("Upload a new draft").setInputFiles(join(fixtures, "novel.md"));
  await page.getByRole("button", { name: "Upload draft" }).click();
  await page.waitForFunction(() => document.querySelectorAll("figure.chart rect.column").length === 2, null, { timeout: 30000 });
  await check(page, "task-drafts");

  step("edit the due date in place; complete, reopen, delete");
  await page.getByRole("button", { name: "Edit due date" }).click();
  const newDue = new Date(Date.now() + 20 * 86400000);
  await page.getByLabel("Due date", { exact: true }).fill(newDue.toISOString().slice(0, 10));
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("in 20 days").waitFor();
  // Processing the manuscript completed the task (the original's rule): reopen it, complete it.
  await page.locator(".badge.completed").waitFor();
  await page.getByRole("button", { name: "Reopen" }).click();
  await page.locator(".badge.pending").waitFor();
  await page.getByRole("button", { name: "Mark completed" }).click();
  await page.locator(".badge.completed").waitFor();
  await page.getByRole("button", { name: "Reopen" }).click();
  await page.locator(".badge.pending").waitFor();
  await page.getByRole("button", { name: "Delete task" }).click();
  await page.getByRole("dialog").waitFor();
  await check(page, "task-delete-dialog");
  await page.getByRole("dialog").getByRole("button", { name: "Delete" }).click();
  await page.getByText("The task is in the trash").waitFor();
  await page.getByRole("button", { name: "Show the trash" }).click();
  await page.getByRole("heading", { name: "Trash" }).waitFor();
  await page.getByText("رمان من: the novel").waitFor();
  await check(page, "trash");

  step("a 6 MiB manuscript goes straight to storage");
  const big = join(shots, "..", "six-mib.txt");
  const paragraph = "It was a bright cold day in April, and the clocks were striking thirteen.\n\n";
  writeFileSync(big, "# Chapter One\n\n" + paragraph.repeat(Math.ceil((6 * 1024 * 1024) / paragraph.length)));
  const storagePuts = [];
  page.on("request", (r) => r.method() === "PUT" && new URL(r.url()).port === "4566" && storagePuts.push(r.url()));
  await page.goto(`${base}/new`);
  await page.getByRole("heading", { name: "New task" }).waitFor();
  await page.getByLabel("Title", { exact: true }).fill("The long one");
  await page.getByLabel("Manuscript (optional)").setInputFiles(big);
  await page.getByRole("button", { name: "Create task" }).click();
  await sawProgress(page);
  await page.getByRole("table", { name: "Chapters" }).waitFor({ timeout: 60000 });
  if (storagePuts.length !== 1) problems.push(`the 6 MiB file made ${storagePuts.length} PUTs to storage, not 1`);
  await page.goto(`${base}/`);
  await page.getByRole("link", { name: "The long one" }).waitFor();
  await check(page, "board");

  step("the settings page: profile, password, devices");
  await page.goto(`${base}/settings`);
  await page.getByRole("heading", { name: "Signed-in devices" }).waitFor();
  await page.getByText("This device").waitFor();
  await check(page, "settings");

  step("forgotten password: the email's link resets it");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  const asked = Date.now();
  await page.getByLabel("Email").fill(writer.email);
  await page.getByRole("button", { name: "Send the link" }).click();
  await page.getByText("works for 30 minutes").waitFor();
  const link = await mail(writer.email, asked);
  if (!link.startsWith(`${base}/reset#token=`)) problems.push(`the reset link ${link} is not this app's /reset page`);
  await page.goto(link);
  await check(page, "reset");
  writer.password = "another long and happy password";
  await page.getByLabel("New password").fill(writer.password);
  await page.getByRole("button", { name: "Set the new password" }).click();
  await page.getByText("Your password is changed").waitFor();
  if (page.url().includes("token=")) problems.push("the token stays in the address bar after the reset");
  await signIn(page, writer);

  step("an administrator deactivates a user whose open page is then signed out");
  const victim = { email: `reader-${run}@example.com`, username: `reader_${run}`, name: "Reader", password: "the reader's long password" };
  const victimPage = await newPage("victim");
  await signUp(victimPage, victim);
  const adminPage = await newPage("admin");
  await signIn(adminPage, admin);
  await adminPage.getByRole("link", { name: "Administration" }).click();
  await adminPage.getByLabel("Search accounts by email or username").fill(victim.email);
  const deactivate = adminPage.getByRole("button", { name: `Deactivate ${victim.email}` });
  await deactivate.waitFor();
  await check(adminPage, "admin");
  await deactivate.click();
  await adminPage.getByRole("button", { name: `Activate ${victim.email}` }).waitFor();
  await adminPage.getByText(`deactivated ${victim.email}`).waitFor();
  await expecting([401], async () => {
    // The writer comes back to the tab.
    // (What the browser tells the page then: TanStack Query listens for it on window.)
    await victimPage.evaluate(() => window.dispatchEvent(new Event("visibilitychange")));
    await victimPage.getByText("Your session has ended").waitFor({ timeout: 15000 });
    await victimPage.getByRole("heading", { name: "Sign in" }).waitFor();
  });

  step("the writer deletes the account");
  await page.goto(`${base}/settings`);
  await page.getByRole("button", { name: "Delete account…" }).click();
  await page.getByRole("dialog").getByLabel("Your password").fill(writer.password);
  await page.getByRole("dialog").getByRole("button", { name: "Delete everything" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await expecting([401], async () => {
    await page.getByLabel("Email").fill(writer.email);
    await page.getByLabel("Password").fill(writer.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
  });

  step("the API's paths stay the API's: no page for an unknown one");
  const unknown = await page.request.get(`${base}/api/v1/nothing-here`);
  if (unknown.status() !== 404 || !(await unknown.json()).detail) problems.push(`GET /api/v1/nothing-here answered ${unknown.status()}, not the API's JSON 404`);
  const deep = await page.request.get(`${base}/tasks/some-client-route`);
  if (!(await deep.text()).includes('<div id="root">')) problems.push("a client route did not get the app's index.html");
  const csp = deep.headers()["content-security-policy"] ?? "";
  if (!csp.includes("script-src 'self'")) problems.push(`the app is served without its Content-Security-Policy: ${csp}`);

  for (const p of [page, victimPage, adminPage]) {
    if (p.remote.length) problems.push(`the app tried to reach other hosts: ${p.remote.join(", ")}`);
  }
  if (problems.length) await fail(`${problems.length} problem(s)`);
  console.log(`web e2e: every step passed; screenshots in ${shots}`);
  await browser.close();
} catch (e) {
  await fail(e.stack ?? String(e));
}
