// svc-tasks' interactive API reference (/docs: Swagger UI compiled into the binary) in a real
// browser: the page renders every operation from /openapi.json without the network beyond
// svc-tasks, "Authorize" takes the dev tenant's API key, and "Try it out" on GET /v1/tasks gets a
// 200 from the live service. Screenshot: .taskflow/api-docs.png. Run by checks/dashboard-check.sh.
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`api-docs-check: ${name} is not set (source .taskflow/dev.env)`);
    process.exit(2);
  }
  return value;
};
const API_URL = env("TASKFLOW_API_URL").replace(/\/+$/, "");
const API_KEY = env("TASKFLOW_API_KEY");
const CHROMIUM = env("TASKFLOW_CHROMIUM");
const MODULES = env("TASKFLOW_BROWSER_MODULES");
const OUT = resolve(env("TASKFLOW_DASHBOARD_OUT"), "api-docs.png");
const WAIT_MS = 30_000;

const puppeteer = createRequire(join(MODULES, "package.json"))("puppeteer-core");
const started = Date.now();
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let page;
try {
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  const offsite = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(API_URL) && !r.url().startsWith("data:")) offsite.push(r.url());
  });
  await page.goto(`${API_URL}/docs`, { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelectorAll(".swagger-ui .opblock").length >= 10, {
    timeout: WAIT_MS,
  });
  const operations = await page.$$eval(".swagger-ui .opblock", (els) => els.length);
  console.log(`  ok   Swagger UI lists ${operations} operations from /openapi.json`);

  // Authorize with the API key (the bearer scheme's field in the dialog).
  await page.click(".swagger-ui .btn.authorize");
  await page.waitForSelector(".swagger-ui .modal-ux input", { timeout: WAIT_MS });
  const fields = await page.$$(".swagger-ui .modal-ux .auth-container");
  let authorized = false;
  for (const field of fields) {
    const text = await field.evaluate((el) => el.textContent || "");
    if (/api[_ ]?key/i.test(text) && !/admin/i.test(text)) {
      await (await field.$("input")).type(API_KEY);
      await (await field.$("button.authorize")).click();
      authorized = true;
      break;
    }
  }
  if (!authorized) throw new Error("no API-key field in the Authorize dialog");
  await page.click(".swagger-ui .modal-ux .btn-done, .swagger-ui .modal-ux .close-modal");
  console.log("  ok   authorized with the dev tenant's API key");

  // Try GET /v1/tasks against the live service.
  const block = await page.waitForSelector('.swagger-ui .opblock-get [data-path="/v1/tasks"]', {
    timeout: WAIT_MS,
  });
  await block.click();
  // The page enables "Try it out" for every operation (tryItOutEnabled): Execute is there.
  await page.waitForSelector(".swagger-ui .opblock.is-open .btn.execute", { timeout: WAIT_MS });
  await page.$eval(".swagger-ui .opblock.is-open .btn.execute", (el) => el.click());
  await page.waitForFunction(
    () => {
      const shown = document.querySelector(".swagger-ui .opblock.is-open .responses-wrapper");
      return shown && /Server response\s*Code\s*Details\s*200/.test(shown.textContent);
    },
    { timeout: WAIT_MS },
  );
  console.log("  ok   Try it out: GET /v1/tasks answered 200 with the key");
  if (offsite.length) throw new Error(`requests left svc-tasks: ${offsite.join(", ")}`);
  console.log("  ok   nothing fetched from anywhere but svc-tasks (works offline)");
  await page.screenshot({ path: OUT, fullPage: false });
  console.log(`api-docs-check: passed (4 checks) in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshot ${OUT}`);
} catch (error) {
  if (page) {
    await page.screenshot({ path: OUT.replace(".png", "-failure.png"), fullPage: true }).catch(() => {});
    const shown = await page
      .$$eval(".swagger-ui .opblock.is-open .responses-wrapper", (els) => els.map((e) => e.textContent.slice(0, 1500)))
      .catch(() => []);
    console.error(`api-docs-check: the open operation shows: ${shown.join(" | ")}`);
  }
  console.error(`api-docs-check: FAILED: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
