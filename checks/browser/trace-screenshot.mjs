// A screenshot of one task's trace in the trace UI (Zipkin's, `make up TRACING=1`): Debian's
// headless Chromium, driven by puppeteer-core. checks/trace-screenshot.sh runs it with the
// environment of .taskflow/dev.env and the npm packages that deploy/install-tools.sh put in the
// cache.
//
// What it does, against the running services:
//   1. submits a `sleep` task (3 steps) to svc-tasks with a `traceparent` it makes up, so the
//      task's spans land in a trace whose id it knows, under a client span of its own;
//   2. waits until the task completed, then exports that client span ("trace-screenshot: submit
//      sleep task", from the submit to the completion) over OTLP/HTTP to Jaeger, as the trace's
//      root;
//   3. waits until Zipkin's API holds the trace with spans of svc-tasks, svc-executor and
//      svc-notify and its span count stopped growing (spans come in batches from each process);
//   4. opens the trace's page in the UI (every span expanded; the page is as tall as the span
//      tree), selects svc-executor's consumer span so the side panel shows its attributes, and
//      saves a full-page screenshot (on failure a screenshot of what it sees, and why).
// Every wait is for a condition, with a deadline; none is a fixed sleep.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`trace-screenshot: ${name} is not set (make up TRACING=1, then source .taskflow/dev.env)`);
    process.exit(2);
  }
  return value;
};

const API_URL = env("TASKFLOW_API_URL").replace(/\/+$/, "");
const API_KEY = env("TASKFLOW_API_KEY");
const UI_URL = env("TASKFLOW_TRACE_UI_URL").replace(/\/+$/, "");
const OTLP_URL = env("OTEL_EXPORTER_OTLP_ENDPOINT").replace(/\/+$/, "");
const CHROMIUM = env("TASKFLOW_CHROMIUM", "/usr/bin/chromium");
const MODULES = env("TASKFLOW_BROWSER_MODULES");
const OUT = resolve(env("TASKFLOW_TRACE_SCREENSHOT", ".taskflow/trace-screenshot.png"));
const WAIT_MS = Number(process.env.TRACE_SCREENSHOT_WAIT_MS || 90_000);
const SERVICES = ["svc-tasks", "svc-executor", "svc-notify"];
// The span the side panel shows: the executor taking the task in (messaging attributes).
const SELECTED = "svc-executor: process taskflow.tasks.requests.v1";

const require = createRequire(join(MODULES, "package.json"));
const puppeteer = require("puppeteer-core");

let step = "starting";
let browser;
let page;

class Failed extends Error {}

// Polls probe (-> {done, value, why}) every 250 ms until done, up to WAIT_MS. A request that
// fails outright (a service restarting) counts as not done yet; a Failed ends the wait.
async function until(description, probe) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  for (;;) {
    try {
      last = await probe();
    } catch (error) {
      if (error instanceof Failed) throw error;
      last = { done: false, why: String(error.cause?.message || error.message || error) };
    }
    if (last.done) return last.value;
    if (Date.now() > deadline) throw new Failed(`timed out after ${WAIT_MS / 1000} s waiting for ${description}${last.why ? `: ${last.why}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function api(method, path, body, headers = {}) {
  const response = await fetch(`${API_URL}${path}`, {
    method,
    headers: { Authorization: `Bearer ${API_KEY}`, Accept: "application/json", ...headers,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Failed(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

const nanos = (ms) => `${BigInt(ms) * 1_000_000n}`;

async function main() {
  const traceId = randomBytes(16).toString("hex");
  const clientSpan = randomBytes(8).toString("hex");
  console.log(`trace-screenshot: a sleep task to ${API_URL}, its trace ${traceId} in ${UI_URL}`);

  step = "submit";
  const submitted = Date.now();
  const task = await api("POST", "/v1/tasks",
    { type: "sleep", payload: { duration_ms: 1500, steps: 3 }, labels: { purpose: "trace-screenshot" } },
    { traceparent: `00-${traceId}-${clientSpan}-01` });
  console.log(`  ..   task ${task.id} submitted`);

  step = "task completion";
  await until(`task ${task.id} to complete`, async () => {
    const t = await api("GET", `/v1/tasks/${task.id}`);
    if (["failed", "cancelled"].includes(t.status)) throw new Failed(`task ${task.id} ended ${t.status}: ${JSON.stringify(t)}`);
    return { done: t.status === "completed", why: `status ${t.status}` };
  });
  const completed = Date.now();
  console.log(`  ok   task completed after ${completed - submitted} ms`);

  step = "client span export";
  const otlp = {
    resourceSpans: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "trace-screenshot" } }] },
      scopeSpans: [{
        scope: { name: "checks/browser/trace-screenshot.mjs" },
        spans: [{
          traceId, spanId: clientSpan, name: "submit sleep task", kind: 3, // CLIENT
          startTimeUnixNano: nanos(submitted), endTimeUnixNano: nanos(completed),
          attributes: [
            { key: "http.request.method", value: { stringValue: "POST" } },
            { key: "url.full", value: { stringValue: `${API_URL}/v1/tasks` } },
            { key: "taskflow.task.id", value: { stringValue: task.id } },
          ],
        }],
      }],
    }],
  };
  const exported = await fetch(`${OTLP_URL}/v1/traces`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(otlp),
    signal: AbortSignal.timeout(10_000),
  });
  if (!exported.ok) throw new Failed(`POST ${OTLP_URL}/v1/traces: ${exported.status} ${await exported.text()}`);

  step = "trace in Zipkin";
  const origin = new URL(UI_URL).origin;
  let previous = -1;
  let stableSince = 0;
  const spans = await until(`trace ${traceId} in Zipkin with spans of ${SERVICES.join(", ")}`, async () => {
    const response = await fetch(`${origin}/api/v2/trace/${traceId}`, { signal: AbortSignal.timeout(10_000) });
    if (response.status === 404) return { done: false, why: "not there yet" };
    if (!response.ok) throw new Failed(`GET ${origin}/api/v2/trace/${traceId}: ${response.status}`);
    const list = await response.json();
    const services = new Set(list.map((s) => s.localEndpoint?.serviceName));
    const missing = [...SERVICES, "trace-screenshot"].filter((s) => !services.has(s));
    if (list.length !== previous) { previous = list.length; stableSince = Date.now(); }
    const settled = Date.now() - stableSince >= 2_000;
    const selectedThere = list.some((s) => `${s.localEndpoint?.serviceName}: ${s.name}` === SELECTED);
    return { done: missing.length === 0 && settled && selectedThere, value: list,
      why: missing.length ? `${list.length} spans, none yet from ${missing.join(", ")}` : `${list.length} spans, still arriving` };
  });
  const counts = {};
  for (const s of spans) counts[s.localEndpoint.serviceName] = (counts[s.localEndpoint.serviceName] || 0) + 1;
  console.log(`  ok   Zipkin has the trace: ${spans.length} spans (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ")})`);

  step = "trace page";
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check"],
  });
  page = await browser.newPage();
  // Wide, and tall enough for every row of the span tree (30 px each, under ~330 px of header)
  // and for the side panel's list of attributes: both scroll inside their own panes, which a
  // full-page screenshot would not unroll.
  await page.setViewport({ width: 1800, height: Math.max(1500, 400 + 30 * spans.length), deviceScaleFactor: 1 });
  await page.goto(`${UI_URL}/traces/${traceId}`, { waitUntil: "networkidle0", timeout: WAIT_MS });
  const rowText = (text) => [...document.querySelectorAll("div, span, p")]
    .find((el) => el.children.length === 0 && el.textContent.trim() === text);
  // Rendered: the header counts every span, and rows of each service are there.
  await page.waitForFunction((n, services) => {
    const text = document.body.innerText.replace(/\s+/g, " ");
    return text.includes(`Total Spans ${n}`) && services.every((s) => text.includes(`${s}: `));
  }, { timeout: WAIT_MS }, spans.length, SERVICES);
  const handle = await page.evaluateHandle(rowText, SELECTED);
  const element = handle.asElement();
  if (element) {
    await element.click();
    await page.waitForFunction((text) => document.body.innerText.includes("messaging.destination.name"), { timeout: WAIT_MS });
  } else {
    console.log(`  ..   no row "${SELECTED}" to select; the side panel shows the root span`);
  }
  // The tree, as the UI shows it: one line per span, for the log.
  const shown = await page.evaluate((services) => {
    const lines = document.body.innerText.split("\n").map((l) => l.trim());
    return lines.filter((l) => [...services, "trace-screenshot"].some((s) => l.startsWith(`${s}: `)));
  }, SERVICES);
  for (const s of SERVICES) {
    if (!shown.some((l) => l.startsWith(`${s}: `))) throw new Failed(`the page shows no span of ${s}`);
  }
  console.log(`  ok   the page shows ${shown.length} span rows, of ${[...new Set(shown.map((l) => l.split(":")[0]))].join(", ")}`);

  step = "screenshot";
  // Grow the page until no pane scrolls inside any more (the tree, the side panel's attributes;
  // not the resize detector's hidden expand/contract triggers, which always overflow).
  for (let round = 0; round < 3; round++) {
    const hidden = await page.evaluate(() => Math.max(0, ...[...document.querySelectorAll("*")]
      .filter((el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowY) &&
        !/(^|\s)(expand|contract)-trigger(\s|$)/.test(el.className) && el.clientHeight > 0)
      .map((el) => el.scrollHeight - el.clientHeight)));
    if (hidden <= 1) break;
    const viewport = page.viewport();
    await page.setViewport({ ...viewport, height: viewport.height + hidden + 20 });
  }
  mkdirSync(dirname(OUT), { recursive: true });
  await page.screenshot({ path: OUT, fullPage: true });
  console.log(`  ok   screenshot: ${OUT}`);
  console.log(`  ..   the trace in the UI: ${UI_URL}/traces/${traceId}`);
}

try {
  await main();
} catch (error) {
  console.error(`trace-screenshot: FAILED at ${step}: ${error instanceof Failed ? error.message : error.stack || error}`);
  if (page) {
    const shot = OUT.replace(/\.png$/, "-failure.png");
    await page.screenshot({ path: shot, fullPage: true }).then(() => console.error(`  screenshot of the page: ${shot}`)).catch(() => {});
  }
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
}
