// lumen admin page logic: login, the tabs (Pairing, Clients, Apps, Sessions, Logs), polling the visible tab
// every second, the owner's actions (PIN, rename, unpair, apps, end session) and the sessions' live plots.
// Every POST carries the CSRF token; all host data goes into the page through textContent, never as HTML.
"use strict";

const POLL_MS = 1000;
const PLOT_SAMPLES = 60; // points kept per session plot (a minute at one poll a second)
const MAX_LOG_LINES = 500;
const TABS = ["pairing", "clients", "apps", "sessions", "logs"];

const state = {
  csrf: null,
  tab: "pairing",
  timer: null,
  pollGen: 0,
  pollError: false,
  logSeq: null,
  history: new Map(), // session number -> {frames, t, fps[], bitrate[], latency[]}
  apps: new Map(), // app id -> app (for the edit form)
  editingApp: null,
};

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------------------------------------ helpers

/** A new element; `text` sets textContent, `on*` adds listeners, children are nodes or (escaped) strings. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

/** Keeps one child of `parent` per item (matched by key): new ones are made, gone ones removed, and the
 * rest updated in place, so that inputs being typed into and buttons being clicked survive a poll. */
function syncRows(parent, items, key, make, update) {
  const old = new Map();
  for (const c of parent.children) old.set(c.dataset.key, c);
  let prev = null;
  for (const item of items) {
    const k = String(key(item));
    let row = old.get(k);
    if (row) old.delete(k);
    else {
      row = make(item);
      row.dataset.key = k;
    }
    update(row, item);
    const want = prev ? prev.nextSibling : parent.firstChild;
    if (row !== want) parent.insertBefore(row, want);
    prev = row;
  }
  for (const r of old.values()) r.remove();
}

/** Sets a cell's text only when it changed (keeps selections and avoids needless layout). */
function setText(node, text) {
  const t = String(text);
  if (node.textContent !== t) node.textContent = t;
}

const fmtDate = (unix) => (unix == null ? "—" : new Date(unix * 1000).toLocaleString());
const fmtTime = (ms) => new Date(ms).toLocaleTimeString();
const fmtNum = (v, digits) => (v == null || Number.isNaN(v) ? "—" : Number(v).toFixed(digits));

function fmtDuration(secs) {
  secs = Math.max(0, Math.floor(secs));
  const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

// ------------------------------------------------------------------------------------------------ the API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** One request; resolves to the JSON reply when it says ok, throws HttpError (with the host's error) else. */
async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", cache: "no-store", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    if (state.csrf) opts.headers["X-CSRF-Token"] = state.csrf;
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new HttpError(0, `the host does not answer (${e.message})`);
  }
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    // not JSON: reported by status below
  }
  if (!res.ok || !data || data.ok === false) {
    throw new HttpError(res.status, (data && data.error) || `HTTP ${res.status} ${res.statusText}`);
  }
  return data;
}

const getJson = (what) => api("GET", "/api/get/" + what);
const doCmd = (cmd) => api("POST", "/api/do", cmd);

/** Runs an owner's action: disables `button` meanwhile, shows `done(reply)` or the error, then refreshes. */
async function act(button, cmd, done) {
  if (button) button.disabled = true;
  try {
    const reply = await doCmd(cmd);
    if (done) showBanner(done(reply), "info");
    return reply;
  } catch (e) {
    if (e.status === 401) loggedOut("Your login has ended: log in again.");
    else showBanner(e.message, "error");
    return null;
  } finally {
    if (button) button.disabled = false;
    pollNow();
  }
}

// ---------------------------------------------------------------------------------------------- the banner

let bannerTimer = null;

function showBanner(text, kind) {
  clearTimeout(bannerTimer);
  const b = $("banner");
  b.className = kind;
  b.dataset.kind = kind;
  setText($("banner-text"), text);
  b.hidden = false;
  if (kind === "info") bannerTimer = setTimeout(hideBanner, 6000);
}

function hideBanner() {
  $("banner").hidden = true;
  state.pollError = false;
}

// ------------------------------------------------------------------------------------------ login, logout

function showLogin(passwordSet) {
  state.csrf = null;
  clearTimeout(state.timer);
  state.pollGen++;
  $("loading").hidden = true;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  // Without a password the page only says how to set one.
  $("login-hint").hidden = passwordSet !== false;
  $("login-fields").hidden = passwordSet === false;
  if (passwordSet !== false) $("login-password").focus();
}

function loggedOut(message) {
  showLogin(true);
  if (message) {
    const e = $("login-error");
    setText(e, message);
    e.hidden = false;
  }
}

function showApp() {
  $("loading").hidden = true;
  $("login").hidden = true;
  $("login-error").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  const fromHash = location.hash.slice(1);
  selectTab(TABS.includes(fromHash) ? fromHash : state.tab);
}

async function login(ev) {
  ev.preventDefault();
  const err = $("login-error");
  err.hidden = true;
  $("login-submit").disabled = true;
  try {
    const r = await api("POST", "/api/login", { password: $("login-password").value });
    state.csrf = r.csrf;
    $("login-password").value = "";
    showApp();
  } catch (e) {
    const why = {
      401: "Wrong password.",
      409: "No admin password is set: run lumen-session admin-password on the host.",
      429: `Too many failed attempts: ${e.message}`,
    }[e.status];
    setText(err, why || e.message);
    err.hidden = false;
    if (e.status === 409) $("login-hint").hidden = false;
  } finally {
    $("login-submit").disabled = false;
  }
}

async function logout() {
  try {
    await api("POST", "/api/logout", {});
  } catch (e) {
    if (e.status !== 401) showBanner(e.message, "error");
  }
  state.logSeq = null;
  $("logs").replaceChildren();
  showLogin(true);
}

// ------------------------------------------------------------------------------------------ tabs, polling

function selectTab(name) {
  state.tab = name;
  for (const t of TABS) {
    const on = t === name;
    $("tab-" + t).setAttribute("aria-selected", on ? "true" : "false");
    $("panel-" + t).hidden = !on;
  }
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  pollNow();
}

function pollNow() {
  if (!state.csrf) return;
  clearTimeout(state.timer);
  poll(++state.pollGen);
}

async function poll(gen) {
  const tab = state.tab;
  try {
    await REFRESH[tab]();
    if (state.pollError) hideBanner();
  } catch (e) {
    if (e.status === 401) {
      loggedOut("Your login has ended: log in again.");
      return;
    }
    state.pollError = true;
    showBanner(`Could not refresh ${tab}: ${e.message}`, "error");
  }
  if (gen === state.pollGen && state.csrf) {
    state.timer = setTimeout(() => poll(++state.pollGen), POLL_MS);
  }
}

// ------------------------------------------------------------------------------------------------ pairing

async function refreshPairing() {
  const d = await getJson("pairing");
  const armed = $("pair-armed");
  armed.hidden = !d.armed;
  if (d.armed) {
    const left = d.armed_expires_in_secs == null ? "" : ` (${Math.ceil(d.armed_expires_in_secs)} s left)`;
    setText(armed, `A PIN is armed for the next client that pairs${left}.`);
  }
  syncRows($("pair-waiting"), d.waiting || [], (w) => w.id, makePairRow, updatePairRow);
  $("pair-empty").hidden = (d.waiting || []).length > 0;

  const busy = d.in_progress || [];
  $("pair-busy").hidden = busy.length === 0;
  $("pair-in-progress").replaceChildren(
    ...busy.map((a) => el("li", { text: `${a.device} from ${a.address}: finishing (${a.secs ?? 0} s)` })));
  const locked = d.locked_sources || [];
  $("pair-locked-box").hidden = locked.length === 0;
  $("pair-locked").replaceChildren(...locked.map((l) => el("li", {
    "data-testid": "pair-locked",
    text: `${l.address}: ${l.failures} failed attempts, locked for ${Math.ceil(l.locked_for_secs)} s more`,
  })));
}

function makePairRow(w) {
  const pin = el("input", {
    "data-testid": "pair-pin", inputmode: "numeric", autocomplete: "off", maxlength: 8, size: 6,
    placeholder: "PIN", "aria-label": "PIN shown by the client",
  });
  const name = el("input", {
    "data-testid": "pair-name", maxlength: 128, placeholder: w.device || "Name",
    "aria-label": "Name for this device",
  });
  const submit = el("button", { type: "button", "data-testid": "pair-submit", text: "Pair" });
  const tr = el("tr", { "data-testid": "pair-request", "data-request-id": w.id },
    el("td", { "data-testid": "pair-device" }), el("td", { "data-testid": "pair-address" }),
    el("td", { "data-testid": "pair-since" }), el("td", {}, pin), el("td", {}, name), el("td", {}, submit));
  tr.since = Date.now() - w.waiting_secs * 1000;
  const give = () => {
    const device = tr.cells[0].textContent;
    act(submit, {
      cmd: "pin", pin: pin.value.trim(), client: String(w.id), name: name.value.trim() || null,
    }, () => `PIN given to ${device}: it finishes pairing now.`);
  };
  submit.addEventListener("click", give);
  for (const i of [pin, name]) i.addEventListener("keydown", (ev) => { if (ev.key === "Enter") give(); });
  return tr;
}

function updatePairRow(tr, w) {
  setText(tr.cells[0], w.device || "(unnamed)");
  setText(tr.cells[1], w.address);
  setText(tr.cells[2], `${fmtTime(tr.since)} (${fmtDuration(w.waiting_secs)})`);
  tr.cells[2].title = w.uniqueid ? `uniqueid ${w.uniqueid}` : "";
}

function armPin(ev) {
  ev.preventDefault();
  const pin = $("arm-pin"), name = $("arm-name");
  act($("arm-submit"), { cmd: "pin", pin: pin.value.trim(), client: null, name: name.value.trim() || null },
    (r) => {
      pin.value = "";
      name.value = "";
      return r.given_to ? `PIN given to ${r.given_to.device}.` : `PIN armed for ${r.armed_for_secs} s.`;
    });
}

// ------------------------------------------------------------------------------------------------ clients

async function refreshClients() {
  const d = await getJson("clients");
  syncRows($("clients-body"), d.clients, (c) => c.id, makeClientRow, updateClientRow);
  $("clients-empty").hidden = d.clients.length > 0;
}

function makeClientRow(c) {
  const rename = el("button", { type: "button", "data-testid": "client-rename", text: "Rename" });
  const unpair = el("button", { type: "button", class: "danger", "data-testid": "client-unpair", text: "Unpair" });
  const nameCell = el("td", {}, el("span", { "data-testid": "client-name" }));
  const tr = el("tr", { "data-testid": "client-row", "data-client-id": c.id },
    nameCell, el("td", { "data-testid": "client-paired" }), el("td", { "data-testid": "client-last-seen" }),
    el("td", { "data-testid": "client-user" }), el("td", { "data-testid": "client-streaming" }),
    el("td", { class: "actions" }, rename, unpair));
  tr.client = c;
  rename.addEventListener("click", () => startRename(tr, nameCell));
  unpair.addEventListener("click", () => {
    if (confirm(`Unpair "${tr.client.name}"? It has to pair again to stream.`)) {
      act(unpair, { cmd: "unpair", id: tr.client.id }, () => `Unpaired "${tr.client.name}".`);
    }
  });
  return tr;
}

function updateClientRow(tr, c) {
  tr.client = c;
  tr.dataset.streaming = c.streaming ? "true" : "false";
  if (!tr.editing) setText(tr.querySelector("[data-testid=client-name]"), c.name);
  setText(tr.cells[1], fmtDate(c.paired_at));
  setText(tr.cells[2], c.last_seen == null ? "never" : fmtDate(c.last_seen));
  setText(tr.cells[3], c.user || "—");
  setText(tr.cells[4], c.streaming ? "streaming" : "—");
  tr.cells[4].className = c.streaming ? "live" : "";
}

function startRename(tr, cell) {
  if (tr.editing) return;
  tr.editing = true;
  const input = el("input", { "data-testid": "client-rename-input", maxlength: 128, "aria-label": "New name" });
  input.value = tr.client.name;
  const save = el("button", { type: "button", "data-testid": "client-rename-save", text: "Save" });
  const cancel = el("button", { type: "button", "data-testid": "client-rename-cancel", text: "Cancel" });
  const span = cell.firstChild;
  const finish = () => {
    tr.editing = false;
    setText(span, tr.client.name);
    cell.replaceChildren(span);
  };
  const submit = async () => {
    const name = input.value.trim();
    const ok = await act(save, { cmd: "rename", id: tr.client.id, name }, () => `Renamed to "${name}".`);
    if (ok) {
      tr.client = { ...tr.client, name };
      finish();
    }
  };
  save.addEventListener("click", submit);
  cancel.addEventListener("click", finish);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") submit();
    else if (ev.key === "Escape") finish();
  });
  cell.replaceChildren(el("span", { class: "inline" }, input, save, cancel));
  input.focus();
  input.select();
}

// --------------------------------------------------------------------------------------------------- apps

async function refreshApps() {
  const d = await getJson("apps");
  state.apps = new Map(d.apps.map((a) => [a.id, a]));
  syncRows($("apps-body"), d.apps, (a) => `${a.id}:${a.editable}`, makeAppRow, updateAppRow);
  setText($("apps-config-path"), d.config_path || "(no config file)");
}

function makeAppRow(a) {
  const actions = el("td", { class: "actions" });
  if (a.editable) {
    actions.append(
      el("button", { type: "button", "data-testid": "app-edit", text: "Edit", onclick: () => editApp(a.id) }),
      el("button", {
        type: "button", class: "danger", "data-testid": "app-remove", text: "Remove",
        onclick: (ev) => {
          const app = state.apps.get(a.id);
          if (app && confirm(`Remove the app "${app.name}"?`)) {
            act(ev.target, { cmd: "app_remove", id: a.id }, () => `Removed "${app.name}".`);
          }
        },
      }));
  } else {
    const from = { builtin: "built in", command_line: "command line" }[a.origin] || "not editable";
    actions.append(el("span", { class: "muted", text: from }));
  }
  return el("tr", { "data-testid": "app-row", "data-app-id": a.id },
    el("td", { "data-testid": "app-row-name" }), el("td", {}, el("code", { "data-testid": "app-row-command" })),
    el("td", { "data-testid": "app-row-image" }), el("td", { "data-testid": "app-row-workdir" }),
    el("td", { "data-testid": "app-row-env", class: "env" }), actions);
}

function updateAppRow(tr, a) {
  tr.dataset.appName = a.name;
  setText(tr.cells[0], a.name);
  setText(tr.cells[1].firstChild, a.command || "—");
  setText(tr.cells[2], a.image || "—");
  setText(tr.cells[3], a.working_dir || "—");
  setText(tr.cells[4], envText(a.env) || "—");
}

const envText = (env) => Object.entries(env || {}).map(([k, v]) => `${k}=${v}`).join("\n");

/** `KEY=value` lines (blank lines and `#` comments skipped) to an object; throws on a malformed line. */
function parseEnv(text) {
  const env = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`environment line "${line}" is not KEY=value`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return env;
}

function editApp(id) {
  const a = state.apps.get(id);
  if (!a) return;
  state.editingApp = id;
  $("app-name").value = a.name;
  $("app-command").value = a.command || "";
  $("app-image").value = a.image || "";
  $("app-workdir").value = a.working_dir || "";
  $("app-env").value = envText(a.env);
  setText($("app-form-title"), `Edit "${a.name}"`);
  setText($("app-submit"), "Save");
  $("app-cancel").hidden = false;
  $("app-form").scrollIntoView({ block: "nearest" });
  $("app-name").focus();
}

function resetAppForm() {
  state.editingApp = null;
  $("app-form").reset();
  setText($("app-form-title"), "Add an app");
  setText($("app-submit"), "Add");
  $("app-cancel").hidden = true;
}

async function saveApp(ev) {
  ev.preventDefault();
  const val = (id) => $(id).value.trim() || null;
  let env;
  try {
    env = parseEnv($("app-env").value);
  } catch (e) {
    showBanner(e.message, "error");
    return;
  }
  const app = {
    name: $("app-name").value.trim(), command: $("app-command").value.trim(), image: val("app-image"),
    working_dir: val("app-workdir"), env,
  };
  const editing = state.editingApp;
  const cmd = editing == null ? { cmd: "app_add", app } : { cmd: "app_edit", id: editing, app };
  const ok = await act($("app-submit"), cmd, () => (editing == null ? `Added "${app.name}".` : `Saved "${app.name}".`));
  if (ok) resetAppForm();
}

// ----------------------------------------------------------------------------------------------- sessions

async function refreshSessions() {
  const d = await getJson("sessions");
  const now = performance.now();
  const live = new Set();
  for (const s of d.sessions) {
    live.add(s.session);
    let h = state.history.get(s.session);
    if (!h) {
      h = { frames: null, bytes: null, t: null, fps: [], bitrate: [], latency: [] };
      state.history.set(s.session, h);
    }
    // fps and the rate sent: frames and video bytes sent between two polls over the time between their
    // replies (the figures are there while the session streams).
    const dt = h.t == null ? 0 : (now - h.t) / 1000;
    const rate = (v, last) => (v != null && last != null && v >= last && dt > 0 ? (v - last) / dt : null);
    h.lastFps = rate(s.frames_sent, h.frames);
    h.lastSent = rate(s.video_bytes, h.bytes);
    h.frames = s.frames_sent ?? null;
    h.bytes = s.video_bytes ?? null;
    h.t = now;
    if (h.lastFps != null) push(h.fps, h.lastFps);
    push(h.bitrate, s.bitrate_kbps);
    push(h.latency, s.host_latency_ms);
  }
  for (const k of [...state.history.keys()]) if (!live.has(k)) state.history.delete(k);
  syncRows($("sessions-list"), d.sessions, (s) => s.session, makeSessionCard, updateSessionCard);
  $("sessions-empty").hidden = d.sessions.length > 0;
}

function push(list, v) {
  list.push(v == null ? NaN : Number(v));
  if (list.length > PLOT_SAMPLES) list.shift();
}

const STATS = [
  ["mode", "Mode"], ["codec", "Codec"], ["bitrate", "Bitrate"], ["sent", "Sent"], ["fps", "FPS"],
  ["frames", "Frames"], ["latency", "Host latency"], ["loss", "Loss"], ["uptime", "Streaming for"],
];
const PLOTS = [["fps", "fps"], ["bitrate", "bitrate (kb/s)"], ["latency", "host latency (ms)"]];

function makeSessionCard(s) {
  const end = el("button", { type: "button", class: "danger", "data-testid": "session-end", text: "End" });
  const card = el("article", { class: "card", "data-testid": "session-row", "data-session": s.session },
    el("header", {},
      el("h3", { "data-testid": "session-title" }),
      el("span", { class: "badge", "data-testid": "session-state" }), end),
    el("dl", {}, ...STATS.flatMap(([k, label]) => [el("dt", { text: label }),
      el("dd", { "data-testid": "session-" + k })])),
    el("div", { class: "plots" }, ...PLOTS.map(([k, label]) => el("figure", {},
      el("canvas", { "data-testid": "session-plot-" + k, width: 180, height: 40, class: "plot-" + k }),
      el("figcaption", { text: label })))));
  card.sess = s;
  end.addEventListener("click", () => {
    const c = card.sess;
    if (confirm(`End session ${c.session} of "${c.client_name || c.client_id}"? Its app is closed.`)) {
      act(end, { cmd: "end_session", session: c.session }, () => `Ended session ${c.session}.`);
    }
  });
  return card;
}

function updateSessionCard(card, s) {
  card.sess = s;
  const h = state.history.get(s.session);
  const q = (k) => card.querySelector(`[data-testid=session-${k}]`);
  const who = s.client_name || s.client_id;
  setText(q("title"), `${who}${s.client_address ? ` (${s.client_address})` : ""} — ${s.app}`);
  setText(q("state"), s.state);
  q("state").dataset.state = s.state;
  setText(q("mode"), s.mode || "—");
  setText(q("codec"), s.codec || "—");
  setText(q("bitrate"), s.bitrate_kbps == null ? "—" : `${fmtNum(s.bitrate_kbps / 1000, 1)} Mb/s`);
  setText(q("sent"), h.lastSent == null ? "—" : `${fmtNum((h.lastSent * 8) / 1e6, 2)} Mb/s`);
  setText(q("fps"), fmtNum(h.lastFps, 1));
  setText(q("frames"), s.frames_sent ?? "—");
  setText(q("latency"), s.host_latency_ms == null ? "—" : `${fmtNum(s.host_latency_ms, 1)} ms`);
  setText(q("loss"), s.loss_pct == null ? "—" : `${fmtNum(s.loss_pct, 1)} %`);
  setText(q("uptime"), s.uptime_secs == null ? "—" : fmtDuration(s.uptime_secs));
  card.dataset.samples = String(h.fps.length);
  for (const [k] of PLOTS) drawSparkline(q("plot-" + k), h[k]);
}

/** A line of the samples (NaN: a gap) scaled from 0 to a little over their maximum, with that maximum. */
function drawSparkline(canvas, values) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 180, h = canvas.clientHeight || 40;
  if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
  if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return;
  const max = Math.max(...finite) * 1.15 || 1;
  const style = getComputedStyle(canvas);
  ctx.strokeStyle = style.color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let pen = false;
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      pen = false;
      return;
    }
    const x = w - 2 - ((values.length - 1 - i) * (w - 4)) / (PLOT_SAMPLES - 1); // newest at the right
    const y = h - 2 - (v / max) * (h - 14);
    if (pen) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
    pen = true;
  });
  ctx.stroke();
  ctx.fillStyle = style.getPropertyValue("--muted") || "#888";
  ctx.font = "10px sans-serif";
  ctx.fillText(`max ${fmtNum(Math.max(...finite), max >= 100 ? 0 : 1)}`, 2, 10);
}

// --------------------------------------------------------------------------------------------------- logs

async function refreshLogs() {
  const d = await getJson("logs" + (state.logSeq == null ? "" : `?after=${state.logSeq}`));
  const box = $("logs");
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  for (const l of d.lines) {
    if (state.logSeq != null && l.seq <= state.logSeq) continue;
    const text = l.text.replace(/\x1b\[[0-9;]*m/g, ""); // colour codes, if the log has them
    const level = /\b(ERROR|WARN)\b/.exec(text);
    box.append(el("div", { class: "log-line " + (level ? level[1].toLowerCase() : ""), "data-testid": "log-line",
      "data-seq": l.seq, text }));
    state.logSeq = l.seq;
  }
  while (box.childElementCount > MAX_LOG_LINES) box.firstElementChild.remove();
  if (d.lines.length && $("logs-follow").checked && (atBottom || box.childElementCount === d.lines.length)) {
    box.scrollTop = box.scrollHeight;
  }
}

const REFRESH = {
  pairing: refreshPairing, clients: refreshClients, apps: refreshApps, sessions: refreshSessions,
  logs: refreshLogs,
};

// --------------------------------------------------------------------------------------------------- start

async function boot() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("banner-close").addEventListener("click", hideBanner);
  $("arm-form").addEventListener("submit", armPin);
  $("app-form").addEventListener("submit", saveApp);
  $("app-cancel").addEventListener("click", resetAppForm);
  for (const t of TABS) $("tab-" + t).addEventListener("click", () => selectTab(t));
  window.addEventListener("hashchange", () => {
    const t = location.hash.slice(1);
    if (state.csrf && TABS.includes(t) && t !== state.tab) selectTab(t);
  });
  try {
    const auth = await api("GET", "/api/auth");
    if (auth.logged_in) {
      state.csrf = auth.csrf;
      showApp();
    } else {
      showLogin(auth.password_set);
    }
  } catch (e) {
    setText($("loading"), `Cannot reach the host: ${e.message}`);
  }
}

boot();
