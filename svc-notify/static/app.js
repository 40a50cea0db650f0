// TaskFlow live dashboard: plain JavaScript, no build step, served by svc-notify.
//
// Data flow: the API key (session storage) buys short-lived stream tokens (POST /v1/stream-tokens);
// GET /v1/overview gives the state at sequence number N, then one EventSource on
// /v1/stream?after=N keeps it current. On any stream error: a fresh token and a new EventSource
// from the last sequence number seen. Nothing is polled. Actions (submit, cancel) go to
// svc-tasks with the API key, at the address /dashboard/config.json names.
"use strict";

(() => {
  // The statuses and task types come from svc-notify (/dashboard/config.json, which reads them
  // from taskflow-schemas): the page keeps no copy of its own.
  let STATUSES = [];
  let ACTIVE = new Set();
  const PAYLOAD_EXAMPLES = {
    noop: {},
    sleep: { duration_ms: 5000, steps: 5 },
    http: { url: "https://example.org/", method: "GET" },
    fail: { message: "failed on purpose", retryable: false },
  };
  const KEY_STORAGE = "taskflow.apiKey";
  const TOKEN_TTL_SECONDS = 300;
  const TOKEN_MARGIN_MS = 60_000; // refresh a token this long before it expires
  const OVERVIEW_LIMIT = 200;
  const MAX_TASKS = 1000; // rows kept; the oldest ended ones go first
  const TIMELINE_PAGES = 10; // of 100 notifications
  const RECONNECT_MAX_MS = 15_000;

  const $ = (selector, root = document) => root.querySelector(selector);
  const el = {
    signinView: $("#signin-view"),
    signinForm: $("#signin-form"),
    apiKey: $("#api-key"),
    signinError: $("#signin-error"),
    signinSubmit: $("#signin-submit"),
    dashboard: $("#dashboard-view"),
    sessionBar: $("#session-bar"),
    connection: $("#connection"),
    connectionText: $("#connection-text"),
    tenant: $("#tenant"),
    signOut: $("#sign-out"),
    rows: $("#task-rows"),
    empty: $("#empty"),
    emptyFiltered: $("#empty-filtered"),
    visibleCount: $("#visible-count"),
    filters: $("#filters"),
    filterStatus: $("#filter-status"),
    filterType: $("#filter-type"),
    filterLabel: $("#filter-label"),
    filterSearch: $("#filter-search"),
    submitForm: $("#submit-form"),
    submitType: $("#submit-type"),
    submitPayload: $("#submit-payload"),
    submitPriority: $("#submit-priority"),
    submitButton: $("#submit-button"),
    submitResult: $("#submit-result"),
    detail: $("#detail"),
    detailId: $("#detail-id"),
    detailStatus: $("#detail-status"),
    detailCancel: $("#detail-cancel"),
    detailActionResult: $("#detail-action-result"),
    detailClose: $("#detail-close"),
    timeline: $("#timeline"),
    timelineState: $("#timeline-state"),
    announcer: $("#announcer"),
  };

  // ---- state ------------------------------------------------------------------------------

  const state = {
    apiKey: null,
    tasksApiUrl: null,
    token: null, // {token, expiresAt (ms), tenantId}
    tokenPromise: null,
    tokenTimer: null,
    session: 0, // bumped at sign-out: late answers of an old session are dropped
    seq: 0, // last notification applied
    counts: {},
    tasks: new Map(), // task_id -> {task, row}
    types: new Set(),
    source: null,
    reconnectTimer: null,
    failures: 0,
    detailTaskId: null,
    detailSeqs: new Set(),
    detailReturnFocus: null,
    ageTimer: null,
  };

  class AuthError extends Error {}

  // ---- HTTP -------------------------------------------------------------------------------

  async function problemText(response) {
    try {
      const body = await response.json();
      if (body && (body.title || body.detail)) {
        return [body.title, body.detail].filter(Boolean).join(": ");
      }
    } catch (_) {
      /* not JSON */
    }
    return `HTTP ${response.status}`;
  }

  /** A stream token for the tenant, fresh for at least TOKEN_MARGIN_MS. */
  function streamToken() {
    if (state.token && state.token.expiresAt - Date.now() > TOKEN_MARGIN_MS) {
      return Promise.resolve(state.token.token);
    }
    if (!state.tokenPromise) {
      const session = state.session;
      state.tokenPromise = issueToken(state.apiKey)
        .then((token) => {
          if (session !== state.session) throw new AuthError("signed out");
          state.token = token;
          showTenant(token);
          scheduleTokenRefresh();
          return token.token;
        })
        .finally(() => {
          state.tokenPromise = null;
        });
    }
    return state.tokenPromise;
  }

  async function issueToken(apiKey) {
    const response = await fetch("/v1/stream-tokens", {
      method: "POST",
      headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ ttl_seconds: TOKEN_TTL_SECONDS }),
    });
    if (response.status === 401) throw new AuthError(await problemText(response));
    if (!response.ok) throw new Error(await problemText(response));
    const body = await response.json();
    const expiresAt = Date.parse(body.expires_at) || Date.now() + body.ttl_seconds * 1000;
    return { token: body.token, expiresAt, tenantId: body.tenant_id };
  }

  function showTenant(token) {
    el.tenant.textContent = token ? `tenant ${short(token.tenantId)}` : "";
    el.tenant.title = token ? `Tenant ${token.tenantId}` : "";
  }

  function scheduleTokenRefresh() {
    clearTimeout(state.tokenTimer);
    if (!state.token) return;
    const due = Math.max(1_000, state.token.expiresAt - Date.now() - TOKEN_MARGIN_MS - 5_000);
    state.tokenTimer = setTimeout(() => {
      streamToken().catch(handleBackgroundError);
    }, due);
  }

  /** GET from svc-notify with a stream token; one retry with a new token after a 401. */
  async function notifyGet(path, params = {}) {
    for (let attempt = 0; ; attempt++) {
      const token = await streamToken();
      const query = new URLSearchParams({ ...params, token });
      const response = await fetch(`${path}?${query}`, { headers: { Accept: "application/json" } });
      if (response.status === 401 && attempt === 0) {
        state.token = null; // expired or revoked: the key decides which
        continue;
      }
      if (response.status === 401) throw new AuthError(await problemText(response));
      if (!response.ok) throw new Error(await problemText(response));
      return response.json();
    }
  }

  /** A call to svc-tasks with the API key. */
  async function tasksApi(method, path, body, extraHeaders = {}) {
    if (!state.tasksApiUrl) throw new Error("svc-tasks' address is unknown (GET /dashboard/config.json failed)");
    const headers = { Authorization: `Bearer ${state.apiKey}`, Accept: "application/json", ...extraHeaders };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`${state.tasksApiUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (_) {
      throw new Error(
        `could not reach svc-tasks at ${state.tasksApiUrl} (is it running, and does it allow this page's origin ${location.origin} in TASKFLOW_CORS_ORIGINS?)`,
      );
    }
    if (!response.ok) throw new Error(await problemText(response));
    return response.json();
  }

  // ---- session ----------------------------------------------------------------------------

  async function start() {
    wireEvents();
    try {
      const response = await fetch("/dashboard/config.json");
      if (response.ok) {
        const config = await response.json();
        state.tasksApiUrl = (config.tasks_api_url || "").replace(/\/+$/, "") || null;
        applyVocabulary(config);
      }
    } catch (_) {
      /* actions say so when used */
    }
    fillPayloadExample();
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) {
      signIn(saved, { restoring: true });
    } else {
      showSignIn();
    }
  }

  // Builds what names a status or a task type: the counters, the status filter and the submit
  // form's type list.
  function applyVocabulary(config) {
    STATUSES = config.statuses || [];
    ACTIVE = new Set(config.active_statuses || []);
    const types = config.task_types || [];
    const label = (s) => s.charAt(0).toUpperCase() + s.slice(1);
    state.counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    state.types = new Set(types);
    $("#counts").replaceChildren(
      ...STATUSES.map((s) => {
        const li = document.createElement("li");
        li.className = "count";
        li.dataset.status = s;
        const name = document.createElement("span");
        name.className = "count-label";
        name.textContent = label(s);
        const value = document.createElement("span");
        value.className = "count-value";
        value.dataset.count = s;
        value.textContent = "0";
        li.append(name, value);
        return li;
      }),
    );
    const option = (value, text) => {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = text;
      return o;
    };
    el.filterStatus.replaceChildren(
      option("", "All statuses"),
      option("active", `Active (${[...ACTIVE].join(", ")})`),
      ...STATUSES.map((s) => option(s, label(s))),
    );
    // sleep first: its example payload shows progress, the dashboard's best demonstration.
    const ordered = [...types].sort((a, b) => (b === "sleep") - (a === "sleep"));
    el.submitType.replaceChildren(...ordered.map((t) => option(t, t)));
    renderTypeOptions();
  }

  function showSignIn(message = "") {
    document.body.dataset.view = "signin";
    el.dashboard.hidden = true;
    el.sessionBar.hidden = true;
    el.signinView.hidden = false;
    el.signinError.textContent = message;
    el.apiKey.setAttribute("aria-invalid", message ? "true" : "false");
    el.signinSubmit.disabled = false;
    el.apiKey.focus();
  }

  async function signIn(apiKey, { restoring = false } = {}) {
    el.signinSubmit.disabled = true;
    el.signinError.textContent = "";
    let token;
    try {
      token = await issueToken(apiKey);
    } catch (error) {
      if (restoring && !(error instanceof AuthError)) {
        // svc-notify unreachable right now: keep the key and show the dashboard reconnecting.
        token = null;
      } else {
        if (restoring) sessionStorage.removeItem(KEY_STORAGE);
        el.signinSubmit.disabled = false;
        showSignIn(
          error instanceof AuthError
            ? "This API key was not accepted (unknown or revoked)."
            : `Could not sign in: ${error.message}`,
        );
        return;
      }
    }
    state.session += 1;
    state.apiKey = apiKey;
    state.token = token;
    sessionStorage.setItem(KEY_STORAGE, apiKey);
    el.apiKey.value = "";
    el.signinView.hidden = true;
    el.dashboard.hidden = false;
    el.sessionBar.hidden = false;
    document.body.dataset.view = "dashboard";
    showTenant(token);
    scheduleTokenRefresh();
    clearInterval(state.ageTimer);
    state.ageTimer = setInterval(refreshAges, 1_000);
    if (!restoring) el.filterStatus.focus();
    await load();
  }

  function signOut(message = "") {
    state.session += 1;
    closeStream();
    clearTimeout(state.tokenTimer);
    clearInterval(state.ageTimer);
    state.apiKey = null;
    state.token = null;
    state.seq = 0;
    state.failures = 0;
    sessionStorage.removeItem(KEY_STORAGE);
    if (el.detail.open) el.detail.close();
    state.tasks.clear();
    el.rows.replaceChildren();
    for (const s of STATUSES) state.counts[s] = 0;
    renderCounts();
    el.submitResult.textContent = "";
    el.filters.reset();
    setConnection("offline", "Signed out");
    showSignIn(message);
  }

  function handleBackgroundError(error) {
    if (error instanceof AuthError) {
      if (state.apiKey) signOut("Your API key is no longer accepted (revoked?). Sign in again.");
      return;
    }
    console.warn("dashboard:", error);
  }

  // ---- loading and streaming ----------------------------------------------------------------

  /** The state now (overview), then the stream from exactly there. */
  async function load() {
    const session = state.session;
    closeStream();
    setConnection("connecting", "Loading…");
    let overview;
    try {
      overview = await notifyGet("/v1/overview", { limit: String(OVERVIEW_LIMIT) });
    } catch (error) {
      if (session !== state.session) return;
      if (error instanceof AuthError) return handleBackgroundError(error);
      setConnection("offline", "svc-notify unreachable, retrying…");
      scheduleReconnect(true);
      return;
    }
    if (session !== state.session) return;
    replaceState(overview.seq, overview.counts, overview.tasks);
    openStream();
  }

  function closeStream() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.source) {
      state.source.close();
      state.source = null;
    }
  }

  async function openStream() {
    const session = state.session;
    closeStream();
    let token;
    try {
      token = await streamToken();
    } catch (error) {
      if (session !== state.session) return;
      if (error instanceof AuthError) return handleBackgroundError(error);
      setConnection("offline", "Reconnecting…");
      scheduleReconnect();
      return;
    }
    if (session !== state.session) return;
    const query = new URLSearchParams({ token, after: String(state.seq) });
    const source = new EventSource(`/v1/stream?${query}`);
    state.source = source;
    source.addEventListener("open", () => {
      if (state.source !== source) return;
      state.failures = 0;
      setConnection("live", "Live");
    });
    source.addEventListener("task", (event) => {
      if (state.source !== source) return;
      applyNotification(JSON.parse(event.data));
    });
    source.addEventListener("resync", (event) => {
      if (state.source !== source) return;
      const data = JSON.parse(event.data);
      replaceState(data.seq, data.counts, data.tasks);
      announce("The task list was refreshed (older history is no longer kept).");
    });
    source.addEventListener("end", (event) => {
      if (state.source !== source) return;
      let reason = "";
      try {
        reason = JSON.parse(event.data).reason;
      } catch (_) {
        /* keep "" */
      }
      closeStream();
      if (reason === "key-revoked") {
        signOut("Your API key was revoked. Sign in with another key.");
        return;
      }
      setConnection("connecting", "Reconnecting…");
      state.reconnectTimer = setTimeout(openStream, 0);
    });
    // EventSource would retry on its own with the same URL (same token, maybe expired by then):
    // take over instead, with a fresh token and our cursor.
    source.addEventListener("error", () => {
      if (state.source !== source) return;
      closeStream();
      setConnection("connecting", "Reconnecting…");
      scheduleReconnect();
    });
  }

  function scheduleReconnect(fullReload = false) {
    state.failures += 1;
    const delay = Math.min(RECONNECT_MAX_MS, 500 * 2 ** Math.min(state.failures - 1, 5));
    // A stream refused again and again (e.g. a cursor the server no longer knows): start over
    // from a fresh overview; a bad token or key shows up there as a 401.
    const reload = fullReload || state.failures % 3 === 0;
    state.token = state.failures > 1 ? null : state.token;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(reload ? load : openStream, delay);
  }

  function setConnection(kind, text) {
    el.connection.dataset.state = kind;
    el.connectionText.textContent = text;
  }

  // ---- the model: tasks and counters ---------------------------------------------------------

  function replaceState(seq, counts, tasks) {
    state.seq = seq;
    for (const s of STATUSES) state.counts[s] = Number((counts && counts[s]) || 0);
    const keep = new Set(tasks.map((t) => t.task_id));
    for (const [id, entry] of state.tasks) {
      if (!keep.has(id)) {
        entry.row.remove();
        state.tasks.delete(id);
      }
    }
    for (const task of tasks) upsertTask({ ...task });
    renderCounts();
    reorderRows();
    applyFilters();
    if (state.detailTaskId) refreshDetail();
  }

  function applyNotification(n) {
    if (typeof n.seq === "number") {
      if (n.seq <= state.seq) return; // already applied (overview or an earlier connection)
      state.seq = n.seq;
    }
    if (n.previous_status !== n.status) {
      if (n.previous_status && n.previous_status in state.counts) {
        state.counts[n.previous_status] = Math.max(0, state.counts[n.previous_status] - 1);
      }
      if (n.status in state.counts) state.counts[n.status] += 1;
      renderCounts();
    }

    const existing = state.tasks.get(n.task_id);
    const task = existing
      ? { ...existing.task }
      : {
          task_id: n.task_id,
          labels: {},
          status: n.status,
          percent: null,
          message: null,
          attempt: 0,
          error: null,
          cancel_requested: false,
          created_at: null,
          updated_at: n.occurred_at,
          last_seq: n.seq,
        };
    const before = existing ? existing.task.status : null;
    task.status = n.status;
    if (n.task_type != null) task.task_type = n.task_type;
    if (n.priority != null) task.priority = n.priority;
    if (n.labels && typeof n.labels === "object") task.labels = n.labels;
    const ended = before && !ACTIVE.has(before);
    switch (n.event_type) {
      case "TaskCreated":
        task.created_at = task.created_at || n.occurred_at;
        break;
      case "TaskCancelRequested":
        task.cancel_requested = true;
        break;
      case "TaskStarted":
        if (!ended && (n.attempt || 0) >= (task.attempt || 0)) {
          task.percent = null;
          task.message = null;
          task.error = null;
        }
        break;
      case "TaskProgressUpdated":
        if (!ended && (n.attempt || 0) >= (task.attempt || 0)) {
          task.percent = n.percent;
          task.message = n.message;
        }
        break;
      case "TaskCompleted":
        if (!ended) task.percent = 100;
        break;
      case "TaskFailed":
        if (!ended) task.error = n.error;
        break;
      default:
        break;
    }
    if (typeof n.attempt === "number" && !ended) task.attempt = Math.max(task.attempt || 0, n.attempt);
    if (!task.updated_at || n.occurred_at > task.updated_at) task.updated_at = n.occurred_at;
    task.last_seq = n.seq;

    const isNew = !existing;
    upsertTask(task);
    if (isNew || (n.event_type === "TaskCreated" && existing && !existing.task.created_at)) reorderRows();
    applyFilters();
    trimTasks();
    if (before !== n.status) {
      announce(`Task ${short(n.task_id)} (${task.task_type || "task"}) is ${n.status}.`);
    }
    if (state.detailTaskId === n.task_id) {
      refreshDetail();
      addTimelineItem(n);
    }
  }

  function trimTasks() {
    if (state.tasks.size <= MAX_TASKS) return;
    const ended = [...state.tasks.values()]
      .filter((e) => !ACTIVE.has(e.task.status) && e.task.task_id !== state.detailTaskId)
      .sort((a, b) => a.task.last_seq - b.task.last_seq);
    for (const entry of ended.slice(0, state.tasks.size - MAX_TASKS)) {
      entry.row.remove();
      state.tasks.delete(entry.task.task_id);
    }
  }

  function sortKey(task) {
    return task.created_at || task.updated_at || "";
  }

  /** Newest first by creation; rows are moved only when the order changes (keeps focus). */
  function reorderRows() {
    const ordered = [...state.tasks.values()].sort((a, b) => {
      const ka = sortKey(a.task);
      const kb = sortKey(b.task);
      if (ka !== kb) return ka < kb ? 1 : -1;
      return b.task.last_seq - a.task.last_seq;
    });
    let cursor = el.rows.firstElementChild;
    for (const { row } of ordered) {
      if (row === cursor) {
        cursor = cursor.nextElementSibling;
      } else {
        el.rows.insertBefore(row, cursor);
      }
    }
  }

  // ---- rendering ------------------------------------------------------------------------------

  // Task ids are UUIDv7: the first digits are a timestamp shared by neighbours, the last ones
  // random, so the tail is what tells tasks apart.
  function short(id) {
    return `…${String(id).slice(-12)}`;
  }

  // "high" (svc-tasks' spelling) or "HIGH" (the Avro symbol) alike become "High".
  function humanPriority(p) {
    return p ? p.charAt(0).toUpperCase() + p.slice(1).toLowerCase() : "—";
  }

  function age(iso) {
    const t = Date.parse(iso);
    if (!t) return "—";
    const s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d`;
  }

  function formatTime(iso) {
    const t = Date.parse(iso);
    if (!t) return "—";
    return new Date(t).toLocaleString(undefined, {
      year: "numeric", month: "short", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
  }

  function cell(field, className) {
    const td = document.createElement("td");
    if (field) td.dataset.field = field;
    if (className) td.className = className;
    return td;
  }

  function createRow(taskId) {
    const row = document.createElement("tr");
    row.dataset.taskId = taskId;
    row.tabIndex = -1;
    row.className = "task-row";

    const statusCell = cell(null, "col-status");
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.dataset.field = "status";
    statusCell.append(badge);

    const idCell = cell(null, "col-id");
    const code = document.createElement("code");
    code.dataset.field = "task_id";
    code.textContent = taskId;
    const msg = document.createElement("span");
    msg.className = "row-message";
    msg.dataset.field = "message";
    idCell.append(code, msg);

    const progressCell = cell(null, "col-progress");
    const wrap = document.createElement("div");
    wrap.className = "progress-wrap";
    const progress = document.createElement("progress");
    progress.max = 100;
    progress.setAttribute("aria-label", `Progress of task ${short(taskId)}`);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.dataset.field = "percent";
    wrap.append(progress, pct);
    progressCell.append(wrap);

    const actionsCell = cell(null, "col-actions");
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-small btn-danger-ghost";
    cancel.dataset.action = "cancel";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel task ${short(taskId)}`);
    cancel.tabIndex = -1;
    actionsCell.append(cancel);

    const ageCell = cell("age", "col-age");
    const time = document.createElement("time");
    ageCell.append(time);

    row.append(statusCell, idCell, cell("type"), cell("priority"), progressCell, cell("attempt", "num"), ageCell, actionsCell);
    return row;
  }

  function upsertTask(task) {
    let entry = state.tasks.get(task.task_id);
    if (!entry) {
      entry = { task, row: createRow(task.task_id) };
      state.tasks.set(task.task_id, entry);
      el.rows.prepend(entry.row);
    }
    entry.task = task;
    if (task.task_type && !state.types.has(task.task_type)) {
      state.types.add(task.task_type);
      renderTypeOptions();
    }
    renderRow(entry);
  }

  function renderRow({ task, row }) {
    row.dataset.status = task.status;
    row.dataset.type = task.task_type || "";
    const badge = $('[data-field="status"]', row);
    badge.textContent = task.status;
    badge.className = `badge badge-${task.status}`;
    const message = task.error || task.message || (task.cancel_requested && ACTIVE.has(task.status) ? "cancel requested" : "");
    const msg = $('[data-field="message"]', row);
    msg.textContent = message;
    msg.title = message;
    $('[data-field="type"]', row).textContent = task.task_type || "—";
    $('[data-field="priority"]', row).textContent = humanPriority(task.priority);
    $('[data-field="priority"]', row).dataset.priority = (task.priority || "").toLowerCase();
    $('[data-field="attempt"]', row).textContent = task.attempt ? String(task.attempt) : "—";

    const progress = $("progress", row);
    const pct = $('[data-field="percent"]', row);
    if (typeof task.percent === "number") {
      progress.setAttribute("value", String(task.percent));
      progress.setAttribute("aria-valuetext", `${task.percent}%`);
      pct.textContent = `${task.percent}%`;
    } else if (task.status === "running" || task.status === "retrying") {
      progress.removeAttribute("value"); // indeterminate: running, no report yet
      progress.setAttribute("aria-valuetext", "in progress");
      pct.textContent = "";
    } else {
      progress.setAttribute("value", "0");
      progress.setAttribute("aria-valuetext", task.status === "pending" ? "not started" : "no progress reported");
      pct.textContent = "";
    }
    progress.dataset.status = task.status;

    const time = $("time", row);
    const since = task.created_at || task.updated_at;
    time.dateTime = since || "";
    time.title = since ? `${task.created_at ? "Created" : "First seen"} ${formatTime(since)}` : "";
    time.textContent = age(since);

    const cancel = $('[data-action="cancel"]', row);
    cancel.hidden = !ACTIVE.has(task.status) || task.cancel_requested;
  }

  function refreshAges() {
    for (const { task, row } of state.tasks.values()) {
      if (row.hidden) continue;
      const text = age(task.created_at || task.updated_at);
      const time = $("time", row);
      if (time.textContent !== text) time.textContent = text;
    }
  }

  function renderCounts() {
    for (const s of STATUSES) {
      const node = $(`[data-count="${s}"]`);
      const text = String(state.counts[s]);
      if (node.textContent !== text) node.textContent = text;
    }
  }

  function renderTypeOptions() {
    const current = el.filterType.value;
    const options = [...state.types].sort().map((t) => {
      const o = document.createElement("option");
      o.value = t;
      o.textContent = t;
      return o;
    });
    const all = document.createElement("option");
    all.value = "";
    all.textContent = "All types";
    el.filterType.replaceChildren(all, ...options);
    el.filterType.value = current;
  }

  function announce(text) {
    el.announcer.textContent = text;
  }

  // ---- filters and keyboard navigation --------------------------------------------------------

  function currentFilters() {
    const label = el.filterLabel.value.trim();
    let labelKey = null;
    let labelValue = null;
    if (label) {
      const i = label.indexOf(":");
      labelKey = i < 0 ? label : label.slice(0, i);
      labelValue = i < 0 ? null : label.slice(i + 1);
    }
    return {
      status: el.filterStatus.value,
      type: el.filterType.value,
      labelKey,
      labelValue,
      search: el.filterSearch.value.trim().toLowerCase(),
    };
  }

  function matches(task, f) {
    if (f.status === "active" ? !ACTIVE.has(task.status) : f.status && task.status !== f.status) return false;
    if (f.type && task.task_type !== f.type) return false;
    if (f.labelKey) {
      const labels = task.labels || {};
      if (!(f.labelKey in labels)) return false;
      if (f.labelValue !== null && labels[f.labelKey] !== f.labelValue) return false;
    }
    if (f.search && !task.task_id.toLowerCase().includes(f.search)) return false;
    return true;
  }

  function applyFilters() {
    const f = currentFilters();
    let visible = 0;
    for (const { task, row } of state.tasks.values()) {
      const show = matches(task, f);
      if (row.hidden === show) row.hidden = !show;
      if (show) visible += 1;
    }
    const total = state.tasks.size;
    el.empty.hidden = total !== 0;
    el.emptyFiltered.hidden = total === 0 || visible !== 0;
    el.visibleCount.textContent = visible === total ? `${total} shown` : `${visible} of ${total} shown`;
    fixRovingFocus();
  }

  function visibleRows() {
    return [...el.rows.children].filter((r) => !r.hidden);
  }

  /** Exactly one visible row is in the tab order (roving tabindex); arrows move between rows. */
  function fixRovingFocus() {
    const rows = visibleRows();
    const current = el.rows.querySelector('tr[tabindex="0"]');
    if (current && !current.hidden) return;
    if (current) current.tabIndex = -1;
    if (rows.length) rows[0].tabIndex = 0;
  }

  function focusRow(row) {
    const current = el.rows.querySelector('tr[tabindex="0"]');
    if (current && current !== row) current.tabIndex = -1;
    row.tabIndex = 0;
    row.focus();
  }

  function onRowsKeydown(event) {
    const row = event.target.closest("tr[data-task-id]");
    if (!row || event.target !== row) return;
    const rows = visibleRows();
    const i = rows.indexOf(row);
    let next = null;
    switch (event.key) {
      case "ArrowDown": next = rows[i + 1]; break;
      case "ArrowUp": next = rows[i - 1]; break;
      case "Home": next = rows[0]; break;
      case "End": next = rows[rows.length - 1]; break;
      case "PageDown": next = rows[Math.min(rows.length - 1, i + 10)]; break;
      case "PageUp": next = rows[Math.max(0, i - 10)]; break;
      case "Enter":
      case " ":
        event.preventDefault();
        openDetail(row.dataset.taskId, row);
        return;
      case "Delete": {
        const entry = state.tasks.get(row.dataset.taskId);
        if (entry && ACTIVE.has(entry.task.status)) {
          event.preventDefault();
          cancelTask(row.dataset.taskId, null);
        }
        return;
      }
      default: return;
    }
    event.preventDefault();
    if (next) focusRow(next);
  }

  function onRowsClick(event) {
    const row = event.target.closest("tr[data-task-id]");
    if (!row) return;
    const button = event.target.closest('[data-action="cancel"]');
    if (button) {
      cancelTask(row.dataset.taskId, button);
      return;
    }
    focusRow(row);
    openDetail(row.dataset.taskId, row);
  }

  // ---- detail view ------------------------------------------------------------------------------

  async function openDetail(taskId, returnFocus) {
    const entry = state.tasks.get(taskId);
    if (!entry) return;
    state.detailTaskId = taskId;
    state.detailSeqs = new Set();
    state.detailReturnFocus = returnFocus || null;
    el.detail.dataset.taskId = taskId;
    el.timeline.replaceChildren();
    el.detailActionResult.textContent = "";
    el.timelineState.textContent = "Loading the timeline…";
    el.detail.dataset.timeline = "loading";
    refreshDetail();
    if (!el.detail.open) el.detail.showModal();
    el.detailClose.focus();

    const session = state.session;
    try {
      let after = 0;
      for (let page = 0; page < TIMELINE_PAGES; page++) {
        const body = await notifyGet("/v1/notifications", { task_id: taskId, after: String(after), limit: "100" });
        if (session !== state.session || state.detailTaskId !== taskId) return;
        for (const n of body.items) addTimelineItem(n);
        if (body.next_after == null) break;
        after = body.next_after;
      }
      const count = el.timeline.children.length;
      el.timelineState.textContent = count ? `${count} event${count === 1 ? "" : "s"}` : "No events recorded yet.";
      el.detail.dataset.timeline = "loaded";
    } catch (error) {
      if (error instanceof AuthError) return handleBackgroundError(error);
      el.timelineState.textContent = `Could not load the timeline: ${error.message}`;
      el.detail.dataset.timeline = "error";
    }
  }

  function refreshDetail() {
    const entry = state.tasks.get(state.detailTaskId);
    if (!entry) return;
    const t = entry.task;
    el.detailId.textContent = t.task_id;
    el.detailStatus.textContent = t.status;
    el.detailStatus.className = `badge badge-${t.status}`;
    $("#detail-type").textContent = t.task_type || "—";
    $("#detail-priority").textContent = humanPriority(t.priority);
    $("#detail-attempt").textContent = t.attempt ? String(t.attempt) : "—";
    $("#detail-progress").textContent = typeof t.percent === "number" ? `${t.percent}%` : "—";
    $("#detail-created").textContent = t.created_at ? formatTime(t.created_at) : "—";
    $("#detail-updated").textContent = formatTime(t.updated_at);
    const labels = Object.entries(t.labels || {});
    const labelsNode = $("#detail-labels");
    labelsNode.replaceChildren(
      ...(labels.length
        ? labels.map(([k, v]) => {
            const chip = document.createElement("span");
            chip.className = "chip";
            chip.textContent = `${k}: ${v}`;
            return chip;
          })
        : [document.createTextNode("—")]),
    );
    $("#detail-message").textContent = t.message || (t.cancel_requested && ACTIVE.has(t.status) ? "cancel requested" : "—");
    $("#detail-error").textContent = t.error || "—";
    $("#detail-error-row").hidden = !t.error;
    el.detailCancel.hidden = !ACTIVE.has(t.status) || t.cancel_requested;
  }

  function addTimelineItem(n) {
    if (state.detailSeqs.has(n.seq)) return;
    state.detailSeqs.add(n.seq);
    const li = document.createElement("li");
    li.dataset.eventType = n.event_type;
    li.dataset.seq = String(n.seq);
    li.className = `event event-${n.status}`;

    const head = document.createElement("div");
    head.className = "event-head";
    const name = document.createElement("strong");
    name.className = "event-type";
    name.textContent = n.event_type;
    const time = document.createElement("time");
    time.dateTime = n.occurred_at;
    time.textContent = formatTime(n.occurred_at);
    head.append(name, time);

    const body = document.createElement("div");
    body.className = "event-body";
    const parts = [];
    if (n.previous_status !== n.status) parts.push(`${n.previous_status || "new"} → ${n.status}`);
    if (typeof n.attempt === "number") parts.push(`attempt ${n.attempt}`);
    if (typeof n.percent === "number") parts.push(`${n.percent}%`);
    if (n.message) parts.push(n.message);
    body.textContent = parts.join(" · ");
    li.append(head, body);
    if (n.error) {
      const err = document.createElement("div");
      err.className = "event-error";
      err.textContent = n.error;
      li.append(err);
    }
    if (n.result_summary) {
      const res = document.createElement("code");
      res.className = "event-result";
      res.textContent = n.result_summary;
      li.append(res);
    }
    // Keep the timeline in sequence order whatever arrives first (history page or live event).
    const later = [...el.timeline.children].find((other) => Number(other.dataset.seq) > n.seq);
    el.timeline.insertBefore(li, later || null);
    if (el.detail.dataset.timeline === "loaded") {
      const count = el.timeline.children.length;
      el.timelineState.textContent = `${count} event${count === 1 ? "" : "s"}`;
    }
  }

  function onDetailClosed() {
    state.detailTaskId = null;
    delete el.detail.dataset.taskId;
    const back = state.detailReturnFocus;
    state.detailReturnFocus = null;
    if (back && back.isConnected && !back.hidden) {
      focusRow(back);
    } else {
      const first = visibleRows()[0];
      if (first) focusRow(first);
    }
  }

  // ---- actions (svc-tasks) ----------------------------------------------------------------------

  async function cancelTask(taskId, button) {
    const output = state.detailTaskId === taskId ? el.detailActionResult : el.submitResult;
    if (button) button.disabled = true;
    output.dataset.state = "busy";
    output.textContent = `Cancelling task ${short(taskId)}…`;
    try {
      await tasksApi("POST", `/v1/tasks/${encodeURIComponent(taskId)}/cancel`, { reason: "cancelled from the dashboard" });
      output.dataset.state = "ok";
      output.textContent = `Cancellation of task ${short(taskId)} requested.`;
    } catch (error) {
      output.dataset.state = "error";
      output.textContent = `Could not cancel task ${short(taskId)}: ${error.message}`;
    } finally {
      if (button) button.disabled = false;
    }
  }

  function fillPayloadExample() {
    el.submitPayload.value = JSON.stringify(PAYLOAD_EXAMPLES[el.submitType.value] || {}, null, 2);
  }

  async function onSubmitTask(event) {
    event.preventDefault();
    let payload;
    try {
      payload = el.submitPayload.value.trim() ? JSON.parse(el.submitPayload.value) : {};
      if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
        throw new Error("the payload must be a JSON object");
      }
    } catch (error) {
      el.submitPayload.setAttribute("aria-invalid", "true");
      el.submitResult.dataset.state = "error";
      el.submitResult.textContent = `Invalid payload: ${error.message}`;
      el.submitPayload.focus();
      return;
    }
    el.submitPayload.setAttribute("aria-invalid", "false");
    el.submitButton.disabled = true;
    el.submitResult.dataset.state = "busy";
    el.submitResult.textContent = "Submitting…";
    const idempotencyKey = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    try {
      const task = await tasksApi(
        "POST",
        "/v1/tasks",
        { type: el.submitType.value, payload, priority: el.submitPriority.value },
        { "Idempotency-Key": idempotencyKey },
      );
      el.submitResult.dataset.state = "ok";
      el.submitResult.dataset.taskId = task.id;
      el.submitResult.textContent = `Submitted task ${short(task.id)} (${task.type}).`;
    } catch (error) {
      el.submitResult.dataset.state = "error";
      el.submitResult.textContent = `Not submitted: ${error.message}`;
    } finally {
      el.submitButton.disabled = false;
    }
  }

  // ---- wiring -------------------------------------------------------------------------------------

  function wireEvents() {
    el.signinForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = el.apiKey.value.trim();
      if (!key) {
        showSignIn("Enter an API key.");
        return;
      }
      signIn(key);
    });
    el.signOut.addEventListener("click", () => signOut());
    el.filters.addEventListener("input", applyFilters);
    el.filters.addEventListener("change", applyFilters);
    el.filters.addEventListener("submit", (event) => event.preventDefault());
    el.filters.addEventListener("reset", () => setTimeout(applyFilters, 0));
    el.rows.addEventListener("keydown", onRowsKeydown);
    el.rows.addEventListener("click", onRowsClick);
    el.submitType.addEventListener("change", fillPayloadExample);
    el.submitForm.addEventListener("submit", onSubmitTask);
    el.detailClose.addEventListener("click", () => el.detail.close());
    el.detail.addEventListener("close", onDetailClosed);
    el.detail.addEventListener("click", (event) => {
      if (event.target === el.detail) el.detail.close(); // a click on the backdrop
    });
    el.detailCancel.addEventListener("click", () => {
      if (state.detailTaskId) cancelTask(state.detailTaskId, el.detailCancel);
    });
    renderTypeOptions();
  }

  start();
})();
