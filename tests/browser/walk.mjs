// The browser walk of scripts/browser-test: a real Chromium clicking through the site.
import { chromium } from "playwright-core";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const url = process.env.SITE_URL.replace(/\/$/, "");
const outbox = process.env.OUTBOX;
const shots = process.env.SHOTS;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
let step = "start";
const expectText = async (text) => {
  const body = await page.textContent("body");
  if (!body.includes(text)) throw new Error(`expected ${JSON.stringify(text)} on ${page.url()}`);
};
const fill = async (fields) => {
  for (const [name, value] of Object.entries(fields)) await page.fill(`input[name="${name}"]`, value);
};
const submit = async () => Promise.all([page.waitForLoadState("load"), page.click('main button[type="submit"]')]);

try {
  step = "signup";
  await page.goto(`${url}/accounts/signup/`);
  await fill({ username: "walker", email: "walker@example.com", password1: "Brow5er-walk-pass", password2: "Brow5er-walk-pass" });
  await submit();
  await expectText("Welcome, walker");

  step = "logout";
  await Promise.all([page.waitForLoadState("load"), page.click('header button[type="submit"]')]);
  await expectText("You have been logged out.");

  step = "login with next";
  await page.goto(`${url}/accounts/profile/`);
  if (!page.url().includes("/accounts/login/?next=")) throw new Error(`not sent to login: ${page.url()}`);
  await fill({ username: "walker", password: "Brow5er-walk-pass" });
  await submit();
  if (!page.url().endsWith("/accounts/profile/")) throw new Error(`next not honoured: ${page.url()}`);
  await expectText("walker@example.com");

  step = "password change";
  await page.goto(`${url}/accounts/password_change/`);
  await fill({ old_password: "Brow5er-walk-pass", new_password1: "Chang3d-walk-pass", new_password2: "Chang3d-walk-pass" });
  await submit();
  await expectText("Password change successful");

  step = "logout again";
  await Promise.all([page.waitForLoadState("load"), page.click('header button[type="submit"]')]);

  step = "password reset";
  await page.goto(`${url}/accounts/password_reset/`);
  await fill({ email: "walker@example.com" });
  await submit();
  await expectText("Password reset sent");
  const mails = readdirSync(outbox);
  if (mails.length !== 1) throw new Error(`expected one mail in the outbox, found ${mails.length}`);
  const link = readFileSync(join(outbox, mails[0]), "utf8").split("\n").find((l) => l.includes("/accounts/reset/")).trim();
  await page.goto(link);
  await expectText("Enter new password");
  await fill({ new_password1: "Res3t-walk-pass-ok", new_password2: "Res3t-walk-pass-ok" });
  await submit();
  await expectText("Password reset complete");

  step = "login with the new password";
  await page.goto(`${url}/accounts/login/`);
  await fill({ username: "walker", password: "Res3t-walk-pass-ok" });
  await submit();
  if (!page.url().endsWith("/accounts/profile/")) throw new Error(`LOGIN_REDIRECT_URL not used: ${page.url()}`);
  await expectText("walker@example.com");

  // Issue 15: a `next` with a tab, which Chromium drops from a Location and then reads as
  // `//evil.example/x`. The login form carries it in its hidden field.
  step = "open redirect through a tab in next";
  await Promise.all([page.waitForLoadState("load"), page.click('header button[type="submit"]')]);
  await page.goto(`${url}/accounts/login/?next=${encodeURIComponent("/\t/evil.example/x")}`);
  await fill({ username: "walker", password: "Res3t-walk-pass-ok" });
  await submit();
  if (!page.url().startsWith(`${url}/`)) throw new Error(`redirected off the site: ${page.url()}`);
  if (!page.url().endsWith("/accounts/profile/")) throw new Error(`unsafe next not replaced: ${page.url()}`);
  console.log("browser walk: OK (signup, logout, login with next, password change, reset, login, open redirect refused)");
} catch (e) {
  const file = join(shots, `failure-${step.replace(/\W+/g, "-")}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.error(`browser walk FAILED at ${step}: ${e.message} (screenshot: ${file})`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
