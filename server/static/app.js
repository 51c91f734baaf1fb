// AMCS chat page: start a run, then render its event stream (SSE) as chat messages. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["passed", "failed", "cancelled", "error"]);
const state = { token: localStorage.getItem("amcs_token") || "", runId: null, lastId: 0, source: null,
                retryTimer: null, tokenMessages: {} };

function headers(extra = {}) {
  const h = { ...extra };
  if (state.token) h.Authorization = `Bearer ${state.token}`;
  return h;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers || {}) });
  if (response.status === 401) {
    $("token-panel").hidden = false;
    throw new Error("The service needs an API token: enter it on the left.");
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const detail = body && body.detail ? body.detail.map((d) => `${d.field}: ${d.message} [${d.rule}]`).join("\n")
                                       : String(body);
    throw new Error(detail);
  }
  return body;
}

function setConnection(text) {
  const pill = $("connection");
  pill.textContent = text;
  pill.dataset.state = text;
}

function message(kind, who, html, id) {
  const div = document.createElement("div");
  div.className = `message ${kind}`;
  if (id) div.id = id;
  div.innerHTML = (who ? `<div class="who">${escapeHtml(who)}</div>` : "") + html;
  const chat = $("chat");
  const stick = chat.scrollTop + chat.clientHeight >= chat.scrollHeight - 40;
  chat.appendChild(div);
  if (stick) chat.scrollTop = chat.scrollHeight;
  return div;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function scoresHtml(scores) {
  if (!scores) return "";
  return `<div class="scores">${Object.entries(scores)
    .map(([k, v]) => `<span>${escapeHtml(k)} ${typeof v === "number" ? v.toFixed(2) : escapeHtml(v)}</span>`)
    .join("")}</div>`;
}

async function showArtifact(name, title, kind, id) {
  try {
    const text = await api(`/workflows/runs/${state.runId}/artifacts/${name}`);
    const existing = id && document.getElementById(id);
    if (existing) existing.remove();
    message(kind, title, `<pre>${escapeHtml(text)}</pre>`, id);
  } catch (err) {
    message("bad", title, escapeHtml(err.message));
  }
}

function render(ev) {
  const node = ev.node || "run";
  const iteration = ev.iteration ? ` · fix cycle ${ev.iteration}` : "";
  switch (ev.event) {
    case "run.start": {
      const m = ev.metrics || {};
      message("system", "run", `Run ${m.attempt > 1 ? `attempt ${m.attempt} ` : ""}started` +
        `${m.resumed ? " (resumed from its last checkpoint)" : ""} on the ${escapeHtml(m.engine || "default")} engine.`);
      break;
    }
    case "node.start":
      message("", `${node}${iteration}`, "working…");
      if (node === "compose_prompt") showArtifact("lyrics.txt", `lyrics${iteration}`, "", null);
      break;
    case "node.end": {
      const m = ev.metrics || {};
      let html = `done in ${escapeHtml(ev.duration_ms ?? "?")} ms`;
      let kind = "ok";
      if (m.scores) {
        kind = m.validation_result === "pass" ? "ok" : "fix";
        html = `validation <b>${escapeHtml(m.validation_result)}</b>, total ${escapeHtml(m.scores.total)}` + scoresHtml(m.scores);
        if (ev.issues && ev.issues.length) {
          html += `<pre>${escapeHtml(ev.issues.map((i) => `${i.code || i.field || ""}: ${i.message || ""}`).join("\n"))}</pre>`;
        }
      }
      if (node === "apply_fixes") { kind = "fix"; html = `fix cycle ${escapeHtml(ev.iteration)} applied (${escapeHtml(ev.duration_ms)} ms)`; }
      if (m.bpm) html += ` · ${escapeHtml(m.bpm)} BPM`;
      if (m.lines) html += ` · ${escapeHtml(m.lines)} lines`;
      message(kind, `${node}${iteration}`, html);
      break;
    }
    case "node.fail":
      message("bad", `${node}${iteration}`, escapeHtml((ev.issues || []).map((i) => i.message).join("; ") || "failed"));
      break;
    case "token": {
      const key = `${node}-${ev.iteration || 0}`;
      let div = state.tokenMessages[key];
      if (!div) { div = message("", `${node} (streaming)`, "<pre></pre>"); state.tokenMessages[key] = div; }
      div.querySelector("pre").textContent += ev.text || "";
      break;
    }
    case "run.end": {
      const status = (ev.metrics || {}).status;
      message(status === "passed" ? "ok" : "bad", "run", `Run <b>${escapeHtml(status)}</b>.`);
      if (status === "passed" || status === "failed") {
        showArtifact("composed_prompt.txt", "final prompt", "ok", "final-prompt");
      }
      break;
    }
    default:
      message("system", node, escapeHtml(JSON.stringify(ev.metrics || {})));
  }
}

function stopStream() {
  if (state.source) { state.source.close(); state.source = null; }
  if (state.retryTimer) { clearTimeout(state.retryTimer); state.retryTimer = null; }
}

function connect() {
  stopStream();
  const params = new URLSearchParams({ after: String(state.lastId) });
  if (state.token) params.set("access_token", state.token);
  const source = new EventSource(`/workflows/runs/${state.runId}/events?${params}`);
  state.source = source;
  source.onopen = () => setConnection("live");
  source.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (ev.id <= state.lastId) return;  // already shown
    state.lastId = ev.id;
    render(ev);
    if (ev.event === "run.end" && TERMINAL.has((ev.metrics || {}).status)) {
      // the server ends the stream after the final run.end; do not let EventSource reconnect
      checkFinished();
    }
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      setConnection("reconnecting");
      state.retryTimer = setTimeout(connect, 1500);  // e.g. the server restarted: reconnect with ?after=
    } else {
      setConnection("reconnecting");  // EventSource retries by itself with Last-Event-ID
    }
  };
}

async function checkFinished() {
  try {
    const run = await api(`/workflows/runs/${state.runId}`);
    if (TERMINAL.has(run.status) && run.last_event_id <= state.lastId) {
      stopStream();
      setConnection("done");
      loadRuns();
    }
  } catch (err) { /* keep streaming */ }
}

function watch(runId, title) {
  stopStream();
  state.runId = runId;
  state.lastId = 0;
  state.tokenMessages = {};
  $("chat").innerHTML = "";
  message("user", "you", `Watching run <code>${escapeHtml(runId)}</code>${title ? ` · ${escapeHtml(title)}` : ""}`);
  connect();
}

async function startRun() {
  $("form-error").textContent = "";
  let sds;
  if (!$("sds").value.trim()) {
    $("form-error").textContent = "Pick a reference SDS or paste one first.";
    return;
  }
  try {
    sds = JSON.parse($("sds").value);
  } catch (err) {
    $("form-error").textContent = `The SDS is not valid JSON: ${err.message}`;
    return;
  }
  const body = { sds };
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  try {
    const run = await api("/workflows/runs", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    watch(run.run_id, run.title);
    loadRuns();
  } catch (err) {
    $("form-error").textContent = err.message;
  }
}

async function loadExamples() {
  try {
    const items = await api("/workflows/examples");
    $("example").innerHTML = `<option value="">— choose —</option>` + items
      .map((e) => `<option value="${escapeHtml(e.name)}">${escapeHtml(e.name)} · ${escapeHtml(e.title || "")}</option>`)
      .join("");
  } catch (err) {
    $("example").innerHTML = `<option value="">(${escapeHtml(err.message)})</option>`;
  }
}

async function pickExample() {
  const name = $("example").value;
  if (!name) return;
  try {
    const sds = await api(`/workflows/examples/${encodeURIComponent(name)}`);
    $("sds").value = JSON.stringify(sds, null, 2);
  } catch (err) {
    $("form-error").textContent = err.message;
  }
}

async function loadRuns() {
  try {
    const page = await api("/workflows/runs?limit=15");
    $("runs").innerHTML = "";
    for (const run of page.items) {
      const li = document.createElement("li");
      li.innerHTML = `<span>${escapeHtml(run.title || run.run_id.slice(0, 8))}</span><span>${escapeHtml(run.status)}</span>`;
      li.onclick = () => watch(run.run_id, run.title);
      $("runs").appendChild(li);
    }
  } catch (err) { /* token panel shown by api() */ }
}

$("start").addEventListener("click", startRun);
$("example").addEventListener("change", pickExample);
$("refresh").addEventListener("click", loadRuns);
$("save-token").addEventListener("click", () => {
  state.token = $("token").value.trim();
  localStorage.setItem("amcs_token", state.token);
  $("token-panel").hidden = true;
  loadExamples();
  loadRuns();
});
window.addEventListener("online", () => { if (state.runId && !state.source) connect(); });
loadExamples();
loadRuns();
