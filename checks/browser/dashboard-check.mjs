// End-to-end check of svc-notify's dashboard in a real browser (Debian's headless Chromium,
// driven by puppeteer-core). checks/dashboard-check.sh runs it with the environment of
// .taskflow/dev.env and the npm packages that deploy/install-tools.sh put in the cache.
//
// What it does, against the running services (make up):
//   1. opens the dashboard and signs in with the dev tenant's API key, by keyboard;
//   2. submits a `sleep` task to svc-tasks over HTTP from here (not from the page) and, without
//      reloading, sees its row go pending -> running (progress bar moving) -> completed, while
//      the status counters follow the server's;
//   3. finds the row with the task-id filter, reaches it with Tab, opens its detail with Enter,
//      checks the timeline (TaskCreated .. TaskCompleted), closes it with Escape;
//   4. when svc-tasks allows the dashboard's origin (CORS), submits a task from the page's form
//      and cancels it from its row;
//   5. saves .taskflow/dashboard.png (on failure .taskflow/dashboard-failure.png and the page's
//      console in .taskflow/dashboard-console.log).
// Every wait is for a condition, with a deadline; none is a fixed sleep.
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`dashboard-check: ${name} is not set (source .taskflow/dev.env)`);
    process.exit(2);
  }
  return value;
};

const NOTIFY_URL = env("TASKFLOW_NOTIFY_URL").replace(/\/+$/, "");
const API_URL = env("TASKFLOW_API_URL").replace(/\/+$/, "");
const API_KEY = env("TASKFLOW_API_KEY");
const CHROMIUM = env("TASKFLOW_CHROMIUM", "/usr/bin/chromium");
const MODULES = env("TASKFLOW_BROWSER_MODULES");
const OUT_DIR = resolve(env("TASKFLOW_DASHBOARD_OUT", ".taskflow"));
const WAIT_MS = Number(process.env.DASHBOARD_CHECK_WAIT_MS || 60_000);
const SLEEP_MS = 6_000;
const SLEEP_STEPS = 6;

const require = createRequire(join(MODULES, "package.json"));
const puppeteer = require("puppeteer-core");

const started = Date.now();
const checks = [];
const consoleLines = [];
let browser;
let page;
let step = "starting";

function ok(text) {
  checks.push(text);
  console.log(`  ok   ${text}`);
}
function skip(text) {
  console.log(`  SKIP ${text}`);
}
class CheckFailed extends Error {}
function fail(text) {
  throw new CheckFailed(text);
}
function expect(condition, text) {
  if (!condition) fail(text);
}

async function waitFor(description, fn, ...args) {
  try {
    return await page.waitForFunction(fn, { timeout: WAIT_MS, polling: "mutation" }, ...args);
  } catch (error) {
    if (error.name === "TimeoutError") fail(`timed out after ${WAIT_MS / 1000} s waiting for ${description}`);
    throw error;
  }
}

async function http(method, url, { body, headers = {} } = {}) {
  const response = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, Accept: "application/json", ...headers,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { /* not JSON */ }
  return { status: response.status, headers: response.headers, json, text };
}

// Records, in the page, every value a row's data-status and its progress bar's value took:
// MutationObserver keeps each attribute's old value, so no state is missed however quickly
// events follow each other.
function installRecorder() {
  const history = { status: {}, progress: {} };
  const push = (map, id, value) => {
    (map[id] ||= []).push(value);
  };
  const take = (records) => {
    for (const r of records) {
      if (r.type !== "attributes") continue;
      const row = r.target.closest("tr[data-task-id]");
      if (!row) continue;
      const id = row.dataset.taskId;
      if (r.attributeName === "data-status" && r.target === row && r.oldValue !== null) push(history.status, id, r.oldValue);
      if (r.attributeName === "value" && r.target.tagName === "PROGRESS" && r.oldValue !== null) push(history.progress, id, r.oldValue);
    }
  };
  const observer = new MutationObserver(take);
  observer.observe(document.querySelector("#task-rows"), {
    subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-status", "value"],
  });
  window.__dashboardCheck = {
    marker: Math.random().toString(36).slice(2),
    seen(id) {
      take(observer.takeRecords());
      const row = document.querySelector(`tr[data-task-id="${id}"]`);
      const statuses = [...(history.status[id] || [])];
      const values = [...(history.progress[id] || [])];
      if (row) {
        statuses.push(row.dataset.status);
        const bar = row.querySelector("progress");
        if (bar && bar.hasAttribute("value")) values.push(bar.getAttribute("value"));
      }
      const squash = (list) => list.filter((v, i) => i === 0 || v !== list[i - 1]);
      return { statuses: squash(statuses), progress: squash(values).map(Number) };
    },
  };
  return window.__dashboardCheck.marker;
}

const pageCounts = () =>
  page.$$eval("[data-count]", (nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.count, Number(n.textContent)])));

async function main() {
  mkdirSync(OUT_DIR, { recursive: true });
  console.log(`dashboard-check: ${NOTIFY_URL} in headless ${CHROMIUM}, tasks submitted to ${API_URL}`);

  step = "checking the services";
  const ready = await http("GET", `${NOTIFY_URL}/health/ready`).catch((e) => ({ status: 0, text: String(e) }));
  expect(ready.status === 200, `svc-notify at ${NOTIFY_URL} is not ready (${ready.status}: ${ready.text.slice(0, 200)}); run make up`);
  const index = await fetch(`${NOTIFY_URL}/`).then((r) => r.text());
  expect(index.includes('id="signin-form"'),
    `svc-notify at ${NOTIFY_URL} serves another dashboard than svc-notify/static/index.html (a binary built before it changed? run make up)`);

  step = "starting Chromium";
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"],
    defaultViewport: { width: 1440, height: 960 },
    timeout: 30_000,
  });
  page = await browser.newPage();
  page.on("console", (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => consoleLines.push(`[pageerror] ${e.message}`));
  page.on("requestfailed", (r) => {
    const reason = r.failure()?.errorText || "";
    // Closing an EventSource on purpose aborts its request: not worth a line.
    if (reason !== "net::ERR_ABORTED") consoleLines.push(`[requestfailed] ${r.method()} ${r.url().replace(/token=[^&]+/, "token=…")} ${reason}`);
  });
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });

  step = "signing in";
  await page.goto(`${NOTIFY_URL}/`, { waitUntil: "domcontentloaded", timeout: WAIT_MS });
  await page.waitForSelector("#api-key", { visible: true, timeout: WAIT_MS });
  const label = await page.$eval("label[for=api-key]", (n) => n.textContent.trim());
  expect(label === "API key", `the key input has the label "API key" (found ${JSON.stringify(label)})`);
  await page.focus("#api-key");
  await page.keyboard.type(API_KEY);
  await page.keyboard.press("Enter");
  await waitFor("the dashboard after signing in", () =>
    (!document.querySelector("#dashboard-view").hidden && document.querySelector("#connection").dataset.state === "live") ||
    document.querySelector("#signin-error").textContent !== "");
  const refused = await page.$eval("#signin-error", (n) => n.textContent);
  expect(refused === "", `the page accepts TASKFLOW_API_KEY (it says: ${refused})`);
  const stored = await page.evaluate(() => sessionStorage.getItem("taskflow.apiKey"));
  expect(stored === API_KEY, "the API key is kept in sessionStorage");
  ok("signed in by keyboard (type the key, Enter): dashboard shown, key in sessionStorage, stream live");

  const marker = await page.evaluate(installRecorder);
  const countsBefore = await pageCounts();

  step = "submitting a sleep task to svc-tasks";
  const run = randomUUID().slice(0, 8);
  const submitted = await http("POST", `${API_URL}/v1/tasks`, {
    body: { type: "sleep", payload: { duration_ms: SLEEP_MS, steps: SLEEP_STEPS }, priority: "high", labels: { source: "dashboard-check", run } },
    headers: { "Idempotency-Key": `dashboard-check-${run}` },
  });
  expect(submitted.status === 201, `svc-tasks accepts the sleep task (got ${submitted.status}: ${submitted.text.slice(0, 300)})`);
  const taskId = submitted.json.id;
  console.log(`  ..   submitted sleep task ${taskId} (${SLEEP_MS} ms in ${SLEEP_STEPS} steps) over HTTP`);

  step = `following task ${taskId} in the table`;
  const rowSel = `tr[data-task-id="${taskId}"]`;
  await waitFor(`the row ${rowSel}`, (sel) => !!document.querySelector(sel), rowSel);
  const first = await page.evaluate((id) => window.__dashboardCheck.seen(id), taskId);
  ok(`row appeared without a reload, first status "${first.statuses[0]}"`);
  const row = await page.$eval(rowSel, (r) => ({
    type: r.querySelector('[data-field="type"]').textContent,
    priority: r.querySelector('[data-field="priority"]').textContent,
  }));
  expect(row.type === "sleep" && row.priority === "High", `the row shows type sleep and priority High (got ${JSON.stringify(row)})`);

  await waitFor(`task ${taskId} to complete in the table`, (sel) => {
    const r = document.querySelector(sel);
    return r && r.dataset.status === "completed";
  }, rowSel);
  const seen = await page.evaluate((id) => window.__dashboardCheck.seen(id), taskId);
  const history = await http("GET", `${NOTIFY_URL}/v1/notifications?task_id=${taskId}&after=0&limit=500`);
  expect(history.status === 200, `GET /v1/notifications?task_id=${taskId} answers 200 (got ${history.status}: ${history.text.slice(0, 200)})`);
  const told = history.json.items;
  // svc-notify hears of a task on two topics; if the executor's TaskStarted reached it before
  // svc-tasks' TaskCreated, it never said "pending", and the page cannot have shown it.
  const order = told[0]?.status === "pending" ? ["pending", "running", "completed"] : ["running", "completed"];
  let at = 0;
  for (const s of seen.statuses) if (s === order[at]) at += 1;
  expect(at === order.length && seen.statuses[0] === order[0],
    `the row went ${order.join(" -> ")}; it showed ${seen.statuses.join(" -> ")}`);
  ok(`row status went ${seen.statuses.join(" -> ")}`);
  if (order[0] !== "pending") {
    skip(`pending: svc-notify's first notification of the task was ${told[0]?.event_type} (status ${told[0]?.status}), not TaskCreated`);
  }
  const moving = [...new Set(seen.progress.filter((v) => v > 0 && v < 100))];
  expect(moving.length >= 2, `the progress bar showed at least two values between 0 and 100 (saw ${seen.progress.join(", ") || "none"})`);
  ok(`progress bar moved through ${seen.progress.join(" -> ")}`);
  const final = await page.$eval(rowSel, (r) => ({
    badge: r.querySelector('[data-field="status"]').textContent,
    value: r.querySelector("progress").getAttribute("value"),
    attempt: r.querySelector('[data-field="attempt"]').textContent,
  }));
  expect(final.badge === "completed" && final.value === "100" && final.attempt === "1",
    `the completed row shows badge "completed", progress 100 and attempt 1 (got ${JSON.stringify(final)})`);
  ok('completed row: badge "completed", progress 100, attempt 1');

  step = "comparing the counters with the server's";
  const countsAfter = await pageCounts();
  expect(countsAfter.completed >= countsBefore.completed + 1,
    `the completed counter went up (before ${countsBefore.completed}, after ${countsAfter.completed})`);
  let server;
  let shown;
  const deadline = Date.now() + 15_000;
  for (;;) {
    shown = await pageCounts();
    server = (await http("GET", `${NOTIFY_URL}/v1/overview?limit=1`)).json?.counts;
    if (server && JSON.stringify(shown) === JSON.stringify({ ...shown, ...server })) break;
    if (Date.now() > deadline) fail(`the page's counters ${JSON.stringify(shown)} match GET /v1/overview's ${JSON.stringify(server)}`);
    await page.waitForFunction((before) => JSON.stringify([...document.querySelectorAll("[data-count]")].map((n) => n.textContent)) !== before,
      { timeout: 1_000, polling: "mutation" }, JSON.stringify(Object.values(shown).map(String))).catch(() => {});
  }
  ok(`counters followed the stream (completed ${countsBefore.completed} -> ${countsAfter.completed}) and equal GET /v1/overview's: ${JSON.stringify(server)}`);

  step = "opening the task's detail by keyboard";
  await page.focus("#filter-search");
  await page.keyboard.type(taskId);
  await waitFor("the id filter to leave one row", (sel) =>
    [...document.querySelectorAll("#task-rows tr")].filter((r) => !r.hidden).length === 1 && !document.querySelector(sel).hidden, rowSel);
  let tabs = 0;
  while (!(await page.evaluate((sel) => document.activeElement === document.querySelector(sel), rowSel))) {
    expect(tabs < 10, "Tab reaches the task's row from the id filter within 10 presses");
    await page.keyboard.press("Tab");
    tabs += 1;
  }
  await page.keyboard.press("Enter");
  await waitFor("the detail view with its timeline", (id) => {
    const d = document.querySelector("#detail");
    return d.open && d.dataset.taskId === id && d.dataset.timeline === "loaded";
  }, taskId);
  const timeline = await page.$$eval("#timeline li[data-event-type]", (items) => items.map((li) => li.dataset.eventType));
  const detailStatus = await page.$eval("#detail [data-field=status]", (n) => n.textContent);
  const expected = told.map((n) => n.event_type);
  expect(JSON.stringify(timeline) === JSON.stringify(expected),
    `the timeline lists the task's notifications in order: ${expected.join(", ")} (got ${timeline.join(", ")})`);
  expect(timeline.includes("TaskCreated") && timeline.includes("TaskStarted") && timeline.at(-1) === "TaskCompleted",
    `the timeline has TaskCreated, TaskStarted and ends with TaskCompleted (got ${timeline.join(", ")})`);
  const progressEvents = timeline.filter((t) => t === "TaskProgressUpdated").length;
  expect(progressEvents >= 2, `the timeline lists progress updates (got ${progressEvents})`);
  expect(detailStatus === "completed", `the detail shows status completed (got ${detailStatus})`);
  ok(`keyboard: filter by id, Tab x${tabs} to the row, Enter opened the detail; timeline: ${timeline.join(", ")}`);
  await page.keyboard.press("Escape");
  await waitFor("Escape to close the detail and give focus back to the row", (sel) =>
    !document.querySelector("#detail").open && document.activeElement === document.querySelector(sel), rowSel);
  ok("Escape closed the detail and focus went back to the row");
  await page.click("#filters-clear");
  await waitFor("the filters to clear", () => document.querySelector("#filter-search").value === "");

  step = "submitting and cancelling from the page";
  const origin = new URL(NOTIFY_URL).origin;
  const preflight = await fetch(`${API_URL}/v1/tasks`, {
    method: "OPTIONS",
    headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type,idempotency-key" },
  });
  if (preflight.headers.get("access-control-allow-origin") !== origin) {
    skip(`submit and cancel from the page: svc-tasks at ${API_URL} does not allow origin ${origin} (CORS preflight answered ${preflight.status} without it; TASKFLOW_CORS_ORIGINS)`);
  } else {
    await page.select("#submit-type", "sleep");
    await page.$eval("#submit-payload", (t) => { t.value = JSON.stringify({ duration_ms: 120000, steps: 120 }); });
    await page.select("#submit-priority", "low");
    await page.click("#submit-button");
    await waitFor("the form to report the submission", () => {
      const r = document.querySelector("#submit-result");
      return r.dataset.state === "ok" || r.dataset.state === "error";
    });
    const result = await page.$eval("#submit-result", (r) => ({ state: r.dataset.state, text: r.textContent, id: r.dataset.taskId }));
    expect(result.state === "ok", `the page submitted a task to svc-tasks (${result.text})`);
    const sel2 = `tr[data-task-id="${result.id}"]`;
    await waitFor(`the page-submitted task ${result.id} to run`, (sel) => document.querySelector(sel)?.dataset.status === "running", sel2);
    ok(`submitted from the page's form: task ${result.id} appeared and runs`);
    await page.click(`${sel2} [data-action="cancel"]`);
    await waitFor(`task ${result.id} to be cancelled`, (sel) => document.querySelector(sel)?.dataset.status === "cancelled", sel2);
    ok("cancelled from its row: status cancelled");
  }

  const reloaded = await page.evaluate(() => window.__dashboardCheck?.marker);
  expect(reloaded === marker && navigations === 1, `the page was never reloaded (navigations: ${navigations})`);
  ok("no reload: one navigation, every change came over the stream");

  step = "screenshot";
  await page.evaluate(() => document.activeElement?.blur());
  const shot = join(OUT_DIR, "dashboard.png");
  await page.screenshot({ path: shot });
  console.log(`  ..   screenshot: ${shot}`);
}

try {
  await main();
  console.log(`dashboard-check: passed (${checks.length} checks) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await browser?.close();
  process.exit(0);
} catch (error) {
  const message = error instanceof CheckFailed ? error.message : (error.stack || String(error));
  console.error(`dashboard-check: FAILED while ${step}: ${message}`);
  if (page) {
    const shot = join(OUT_DIR, "dashboard-failure.png");
    await page.screenshot({ path: shot }).then(() => console.error(`  screenshot: ${shot}`)).catch(() => {});
  }
  const log = join(OUT_DIR, "dashboard-console.log");
  writeFileSync(log, consoleLines.join("\n") + "\n");
  console.error(`  page console (${consoleLines.length} lines, also in ${log}):`);
  for (const line of consoleLines.slice(-30)) console.error(`    ${line}`);
  await browser?.close().catch(() => {});
  process.exit(1);
}
