// The dev page's timeline: entries (a Baton event, and where and when it happened) drawn as
// runs and turns, and the small helpers the page shares. Loaded before app.js (classic scripts:
// their top-level names are shared). Everything is set as text, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function newId(prefix) {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function pretty(value) {
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch (_) { return value; }
  }
  return JSON.stringify(value, null, 2);
}

function seconds(value) {
  if (value === undefined || value === null) return "";
  return value < 1 ? `${Math.round(value * 1000)} ms` : `${value.toFixed(2)} s`;
}

function describeUsage(usage) {
  if (!usage) return "";
  const parts = [];
  if (usage.input_tokens || usage.output_tokens) parts.push(`${usage.input_tokens || 0} in / ${usage.output_tokens || 0} out tokens`);
  if (usage.reasoning_tokens) parts.push(`${usage.reasoning_tokens} reasoning`);
  if (usage.cache_read_tokens) parts.push(`${usage.cache_read_tokens} cached`);
  if (usage.cost) parts.push(`$${usage.cost.toFixed(4)}`);
  return parts.join(", ");
}

function partsText(parts) {
  return (parts || []).map((p) => (p.type === "Text" ? p.text : p.type === "Data" ? JSON.stringify(p.value) : `[${p.type}]`)).join("\n");
}

function setStatus(text, state) {
  const status = $("status");
  status.textContent = text;
  status.dataset.state = state || "idle";
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// ---------------------------------------------------------------------------------------------
// The timeline: entries (a Baton event, and where/when it happened) drawn as runs and turns.
// ---------------------------------------------------------------------------------------------

class Timeline {
  constructor(root, conversation) {
    this.root = root;
    this.conversation = conversation;
    this.reset();
  }

  reset() {
    this.root.replaceChildren();
    this.run = null;
    this.turn = null;
    this.response = null; // the streaming response item of the open turn
    this.tools = new Map(); // call id -> tool item
    this.tasks = new Map(); // task id -> children container
    this.turns = 0;
  }

  runBox(runId, agent) {
    const state = el("span", { class: "state", text: "running" });
    const usage = el("span", { class: "meta" });
    const head = el("div", { class: "head" }, el("strong", { text: agent || "run" }), el("span", { class: "muted small", text: (runId || "").slice(0, 12) }), state, usage);
    const body = el("div", { class: "body" });
    const box = el("div", { class: "run", "data-status": "running", "data-run": runId || "" }, head, body);
    this.root.append(box);
    this.run = { box, body, state, usage, started: null, agent };
    this.turn = null;
    this.response = null;
    this.turns = 0;
    return this.run;
  }

  ensureRun() {
    return this.run || this.runBox(null, "run");
  }

  openTurn() {
    if (this.turn) return this.turn;
    const run = this.ensureRun();
    this.turns += 1;
    const body = el("div", { class: "turn-body" });
    const box = el("div", { class: "turn", "data-turn": String(this.turns) }, el("div", { class: "head", text: `turn ${this.turns}` }), body);
    run.body.append(box);
    this.turn = { box, body };
    return this.turn;
  }

  add(item) {
    (this.turn ? this.turn.body : this.ensureRun().body).append(item);
    return item;
  }

  closeTurnForNewModelCall() {
    // A model event after a finished response starts the next turn.
    if (this.turn && this.turn.done) { this.turn = null; this.response = null; }
  }

  streamingResponse() {
    this.closeTurnForNewModelCall();
    const turn = this.openTurn();
    if (!this.response) {
      const reasoning = el("div", { class: "reasoning" });
      const text = el("div", { class: "text" });
      const calls = el("div", { class: "calls" });
      const meta = el("span", { class: "meta", text: "streaming…" });
      const item = el("div", { class: "item model pending" }, el("span", { class: "kind", text: "model" }), meta, reasoning, text, calls);
      turn.body.append(item);
      this.response = { item, reasoning, text, calls, meta, callArgs: new Map() };
    }
    return this.response;
  }

  apply(entry) {
    const event = entry.event;
    const handler = this["on" + event.type];
    if (handler) handler.call(this, event, entry);
    else this.add(el("div", { class: "item" }, el("span", { class: "kind", text: event.type }), el("pre", { text: pretty(event) })));
  }

  onRunStarted(event, entry) {
    const run = this.runBox(event.run_id, event.agent);
    run.started = entry.at || null;
  }

  onModelRequest(event) {
    this.add(el("div", { class: "item human" }, el("span", { class: "kind", text: "input" }), el("span", { class: "text", text: partsText(event.parts) })));
  }

  onTextChunk(event) { this.streamingResponse().text.append(event.text); }

  onReasoningChunk(event) { this.streamingResponse().reasoning.append(event.text); }

  onToolCallDelta(event) {
    const response = this.streamingResponse();
    let pre = response.callArgs.get(event.call_id);
    if (!pre) {
      pre = el("pre", { class: "args" });
      response.callArgs.set(event.call_id, pre);
      response.calls.append(el("div", { class: "call" }, el("span", { class: "kind", text: `→ ${event.name}` }), pre));
    }
    pre.append(event.delta);
  }

  onModelResponse(event, entry) {
    const response = this.streamingResponse();
    response.item.classList.remove("pending");
    response.text.textContent = event.text || "";
    response.reasoning.textContent = event.reasoning || "";
    response.calls.replaceChildren(...(event.tool_calls || []).map((call) =>
      el("div", { class: "call", "data-call": call.id }, el("span", { class: "kind", text: `→ ${call.name}` }), el("pre", { class: "args", text: pretty(call.arguments) }))));
    // Another agent's turn in this run (a team's member, say) is named.
    const author = event.agent && this.run && event.agent !== this.run.agent ? event.agent : null;
    const meta = [author, event.provider && event.model ? `${event.provider}:${event.model}` : event.model, describeUsage(event.usage), event.finish_reason, seconds(entry.duration)];
    response.meta.textContent = meta.filter(Boolean).join(" · ");
    if (entry.index !== null && entry.index !== undefined && this.conversation) {
      const details = el("details", { class: "request" }, el("summary", { text: "request as sent" }));
      details.addEventListener("toggle", () => { if (details.open && details.childElementCount === 1) this.loadRequest(details, entry.index); }, { once: false });
      response.item.append(details);
    }
    this.turn.done = true;
    this.response = null;
  }

  async loadRequest(details, index) {
    const pre = el("pre", { text: "loading…" });
    details.append(pre);
    try {
      const call = await getJSON(`/api/conversations/${encodeURIComponent(this.conversation)}/request?index=${index}`);
      pre.textContent = pretty(call);
    } catch (error) {
      pre.textContent = `could not load the request: ${error.message}`;
    }
  }

  toolItem(callId, name) {
    let tool = this.tools.get(callId);
    if (!tool) {
      const args = el("pre", { class: "args" });
      const result = el("pre", { class: "result" });
      const meta = el("span", { class: "meta", text: "running…" });
      const item = el("div", { class: "item tool pending", "data-call": callId }, el("span", { class: "kind", text: `tool ${name}` }), meta, args, result);
      this.add(item);
      tool = { item, args, result, meta };
      this.tools.set(callId, tool);
    }
    return tool;
  }

  onToolCall(event) {
    const tool = this.toolItem(event.id, event.name);
    tool.args.textContent = pretty(event.arguments);
  }

  finishTool(event, entry, text, failed) {
    const tool = this.toolItem(event.call_id, event.name);
    if (!tool.args.textContent) {
      const call = this.root.querySelector(`.call[data-call="${CSS.escape(event.call_id)}"] .args`);
      if (call) tool.args.textContent = call.textContent;
    }
    tool.item.classList.remove("pending");
    if (failed) tool.item.classList.add("failed");
    tool.result.textContent = text;
    tool.meta.textContent = [failed ? "error" : "result", seconds(entry.duration)].filter(Boolean).join(" · ");
  }

  onToolCallResult(event, entry) { this.finishTool(event, entry, event.content, false); }

  onToolCallError(event, entry) { this.finishTool(event, entry, `${event.error_type}: ${event.message}`, true); }

  onApprovalRequest(event) {
    this.add(el("div", { class: "item human" }, el("span", { class: "kind", text: "approval asked" }), el("span", { text: `${event.call.name} ${event.reason || ""}` }), el("pre", { text: pretty(event.call.arguments) })));
  }

  onHumanInputRequest(event) {
    if ((event.request_id || "").startsWith("agui-tool:")) return;
    this.add(el("div", { class: "item human" }, el("span", { class: "kind", text: "question" }), el("span", { class: "text", text: event.prompt })));
  }

  onHumanMessage(event) {
    const verdict = event.approved === true ? "approved" : event.approved === false ? "denied" : "answer";
    this.add(el("div", { class: "item human" }, el("span", { class: "kind", text: event.request_id ? verdict : "remark" }), el("span", { class: "text", text: event.text || "" })));
  }

  onUnattendedRequest(event) {
    this.add(el("div", { class: "item alert" }, el("span", { class: "kind", text: "waiting for a human" }), el("span", { text: event.message })));
  }

  onObserverAlert(event) {
    this.add(el("div", { class: "item alert" }, el("span", { class: "kind", text: `alert (${event.severity}${event.fatal ? ", fatal" : ""})` }), el("span", { text: `${event.observer}: ${event.message}` })));
  }

  onModelCallRetry(event) {
    if (this.response) { this.response.item.classList.add("hidden-step"); this.response = null; }
    this.add(el("div", { class: "item retry" }, el("span", { class: "kind", text: `retry ${event.attempt}` }), el("span", { text: `${event.error_type}: ${event.message} (in ${seconds(event.delay)})` })));
  }

  onRateLimitWait(event) {
    this.add(el("div", { class: "item retry" }, el("span", { class: "kind", text: "rate limit" }), el("span", { text: `${event.limiter} holds the call ${seconds(event.seconds)}` })));
  }

  onOutputRejected(event) {
    this.add(el("div", { class: "item alert" }, el("span", { class: "kind", text: "output rejected" }), el("span", { text: event.message })));
  }

  onCompactionSummary(event) {
    this.add(el("div", { class: "item" }, el("span", { class: "kind", text: `summary of ${event.covers} events` }), el("span", { class: "text", text: event.summary })));
  }

  onTaskStarted(event) {
    const children = el("div", { class: "children" });
    const meta = el("span", { class: "meta", text: "running…" });
    const item = el("div", { class: "item task", "data-task": event.task_id }, el("span", { class: "kind", text: `sub-task ${event.agent}` }), meta, el("div", { class: "text", text: event.task }), children);
    // Nested under the tool call running it, when that is the one call running.
    const running = Array.from(this.tools.values()).filter((tool) => tool.item.classList.contains("pending"));
    if (running.length === 1) running[0].item.insertBefore(item, running[0].result);
    else this.add(item);
    this.tasks.set(event.task_id, { children, meta });
  }

  onTaskProgress(event) {
    const task = this.tasks.get(event.task_id);
    const line = el("div", { class: "small" }, el("span", { class: "kind", text: event.kind }), event.detail || "");
    if (task) task.children.append(line); else this.add(line);
  }

  onTaskCompleted(event) {
    const task = this.tasks.get(event.task_id);
    if (task) { task.meta.textContent = ["done", describeUsage(event.usage)].filter(Boolean).join(" · "); task.children.append(el("div", { class: "text", text: event.text })); }
  }

  onTaskFailed(event) {
    const task = this.tasks.get(event.task_id);
    if (task) task.meta.textContent = `failed: ${event.error_type}: ${event.message}`;
  }

  onUsageReport(event) {
    if (this.run) this.run.usage.textContent = describeUsage(event.usage);
  }

  onRunFinished(event, entry) {
    const run = this.ensureRun();
    run.box.dataset.status = "finished";
    run.state.textContent = "finished" + (entry.at && run.started ? ` in ${seconds(entry.at - run.started)}` : "");
    if (event.output !== null && event.output !== undefined) {
      run.body.append(el("div", { class: "item" }, el("span", { class: "kind", text: "output" }), el("pre", { text: pretty(event.output) })));
    }
    this.run = null; this.turn = null; this.response = null;
  }

  onRunFailed(event) {
    const run = this.ensureRun();
    run.box.dataset.status = "failed";
    run.state.textContent = `failed: ${event.error_type}`;
    run.body.append(el("div", { class: "item alert" }, el("span", { class: "kind", text: event.error_type }), el("span", { text: event.message })));
    this.run = null; this.turn = null; this.response = null;
  }

  // -- a team's own events: between its members' runs (each turn is a run of its own) -------

  teamLine(kind, text, extra) {
    const item = el("div", { class: `item team ${extra || ""}` }, el("span", { class: "kind", text: kind }), el("span", { class: "text", text: text || "" }));
    // a nested team's events happen inside the outer member's run; a top team's between runs
    (this.run ? this.run.body : this.root).append(item);
    return item;
  }

  onTeamStarted(event) { this.teamLine(`team ${event.team}`, `${event.pattern}${event.task ? ` · ${event.task}` : ""}`); }

  onSpeakerSelected(event) { this.teamLine(`→ ${event.member}`, `turn ${event.turn + 1}: ${event.reason}`); }

  onHandoff(event) { this.teamLine("hand-off", `${event.source} → ${event.target}${event.reason ? `: ${event.reason}` : ""}`); }

  onTeamFinished(event) {
    const spent = (event.members || []).map((m) => `${m.member} ${describeUsage(m.usage) || ""}`.trim()).join(", ");
    this.teamLine(`team ${event.team} done`, [event.termination, `${event.turns} turns`, spent].filter(Boolean).join(" · "));
  }

  onTeamFailed(event) { this.teamLine(`team ${event.team} failed`, `${event.error_type}: ${event.message}`, "alert"); }

  markPaused() {
    if (this.run) { this.run.box.dataset.status = "paused"; this.run.state.textContent = "paused: waiting for a human"; }
  }
}
