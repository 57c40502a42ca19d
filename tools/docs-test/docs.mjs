// /docs in headless Chromium (Debian's), with every request off this machine refused: the page
// must render, "Authorize" must obtain a token through the OAuth2 password flow, and a request
// made from the page must succeed. A screenshot is saved as a test artefact.
import { chromium } from "playwright-core";

const base = process.env.DOCS_BASE_URL;
const [email, password] = [process.env.DOCS_EMAIL, process.env.DOCS_PASSWORD];
const screenshot = process.env.DOCS_SCREENSHOT;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const fail = async (message) => {
  console.error(`docs test: ${message}`);
  await browser.close();
  process.exit(1);
};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const remote = [];
  // local-api sends the app's Content-Security-Policy on every response, /docs included: a
  // violation means Swagger UI is broken in production too.
  const violations = [];
  page.on("console", (m) => m.type() === "error" && /Content Security Policy/i.test(m.text()) && violations.push(m.text()));
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "127.0.0.1") return route.continue();
    remote.push(url.href);
    return route.abort();
  });

  await page.goto(`${base}/docs`);
  await page.waitForSelector("#operations-auth-me", { timeout: 15000 });

  await page.click("button.authorize");
  await page.fill("#oauth_username", email);
  await page.fill("#oauth_password", password);
  await page.click(".auth-btn-wrapper button.authorize");
  await page.waitForSelector(".auth-btn-wrapper button.authorize >> text=Logout", { timeout: 15000 });
  await page.click(".auth-btn-wrapper button.btn-done");

  const me = "#operations-auth-me";
  await page.click(`${me} .opblock-summary`);
  await page.click(`${me} button.try-out__btn`);
  await page.click(`${me} button.execute`);
  const status = page.locator(`${me} .live-responses-table tbody td.response-col_status`).first();
  await status.waitFor({ timeout: 15000 });
  const code = (await status.textContent()).trim();
  const body = (await page.locator(`${me} .live-responses-table tbody .microlight`).first().textContent()) ?? "";
  await page.screenshot({ path: screenshot, fullPage: true });

  if (!code.startsWith("200")) await fail(`GET /auth/me from the page answered ${code}: ${body}`);
  if (!body.includes(email)) await fail(`GET /auth/me did not return the authorized user: ${body}`);
  if (violations.length) await fail(`the page broke the Content-Security-Policy: ${violations.join(" | ")}`);
  if (remote.length) await fail(`the page tried to reach other hosts: ${remote.join(", ")}`);
  console.log(`docs test: /docs rendered offline, Authorize obtained a token, GET /auth/me answered ${code}; screenshot ${screenshot}`);
  await browser.close();
} catch (e) {
  await fail(e.stack ?? String(e));
}
