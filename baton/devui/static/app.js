// The baton dev page: chat over the agent's AG-UI endpoint (/agui/), the timeline from the dev
// server's own API (/api/...). Plain browser JavaScript, no build step, no outside requests.
// Everything shown is set as text (never parsed as HTML): a model's output can't script the page.
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

  markPaused() {
    if (this.run) { this.run.box.dataset.status = "paused"; this.run.state.textContent = "paused: waiting for a human"; }
  }
}

// ---------------------------------------------------------------------------------------------
// The chat: messages, streamed over AG-UI for this page's own runs, rebuilt from stored events
// for an opened or watched conversation.
// ---------------------------------------------------------------------------------------------

class Chat {
  constructor(root) { this.root = root; this.open = new Map(); }

  clear() { this.root.replaceChildren(); this.open.clear(); }

  bubble(role, text) {
    const node = el("div", { class: `message ${role}`, text: text || "" });
    this.root.append(node);
    this.root.scrollTop = this.root.scrollHeight;
    return node;
  }

  output(value) {
    const node = el("div", { class: "message output" }, el("strong", { text: "structured output" }), el("pre", { text: pretty(value) }));
    this.root.append(node);
    return node;
  }

  // A stored or watched event (not this page's own AG-UI run).
  fromEvent(event) {
    switch (event.type) {
      case "ModelRequest": this.bubble("user", partsText(event.parts)); break;
      case "ModelResponse":
        if (event.reasoning) this.bubble("reasoning", event.reasoning);
        if (event.text) this.bubble("assistant", event.text);
        for (const call of event.tool_calls || []) this.bubble("tool", `→ ${call.name}(${call.arguments})`).dataset.call = call.id;
        break;
      case "ToolCallResult": this.bubble("tool", `← ${event.name}: ${event.content}`); break;
      case "ToolCallError": this.bubble("tool", `✗ ${event.name}: ${event.message}`); break;
      case "RunFinished": if (event.output !== null && event.output !== undefined) this.output(event.output); break;
      case "RunFailed": this.bubble("error", `${event.error_type}: ${event.message}`); break;
      default: break;
    }
  }

  // One AG-UI event of this page's own run.
  fromAGUI(event) {
    switch (event.type) {
      case "TEXT_MESSAGE_START": this.open.set(event.messageId, this.bubble("assistant", "")); break;
      case "TEXT_MESSAGE_CONTENT": (this.open.get(event.messageId) || this.bubble("assistant", "")).append(event.delta); this.root.scrollTop = this.root.scrollHeight; break;
      case "REASONING_MESSAGE_START": this.open.set(event.messageId, this.bubble("reasoning", "")); break;
      case "REASONING_MESSAGE_CONTENT": (this.open.get(event.messageId) || this.bubble("reasoning", "")).append(event.delta); break;
      case "TOOL_CALL_START": {
        const node = this.bubble("tool", `→ ${event.toolCallName}(`);
        node.dataset.call = event.toolCallId;
        this.open.set(event.toolCallId, node);
        break;
      }
      case "TOOL_CALL_ARGS": { const node = this.open.get(event.toolCallId); if (node) node.append(event.delta); break; }
      case "TOOL_CALL_END": { const node = this.open.get(event.toolCallId); if (node) node.append(")"); break; }
      case "TOOL_CALL_RESULT": this.bubble("tool", `← ${event.content}`); break;
      case "RUN_ERROR": this.bubble("error", `${event.code || "error"}: ${event.message}`); break;
      default: break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------------------------

const page = {
  info: null,
  conversation: null,
  source: null, // the EventSource of the timeline (or of a watched stream)
  entries: [],
  mode: "live", // live | replay | watch
  position: 0,
  interrupts: [],
  answers: new Map(),
  busy: false,
  timeline: null,
  chat: null,
  ready: null, // resolves once the timeline's snapshot arrived (the live listener is in place)
};

function showConversation(cid, label) {
  $("conversation-title").textContent = cid ? `${label || "conversation"} ${cid}` : "new conversation: send a message";
  for (const li of $("conversations").children) li.classList.toggle("current", li.dataset.cid === cid);
}

function closeSource() {
  if (page.source) { page.source.close(); page.source = null; }
}

function render(upTo) {
  page.timeline.reset();
  const last = upTo === undefined ? page.entries.length : upTo;
  for (let i = 0; i < last; i++) page.timeline.apply(page.entries[i]);
  if (page.mode === "replay") $("replay-position").textContent = `${last} / ${page.entries.length}`;
  else if (page.interrupts.length) page.timeline.markPaused();
}

function connect(cid, path, label) {
  closeSource();
  page.conversation = cid;
  page.entries = [];
  page.timeline = new Timeline($("timeline"), cid);
  showConversation(cid, label);
  let resolve;
  page.ready = new Promise((r) => { resolve = r; });
  const source = new EventSource(path);
  page.source = source;
  source.addEventListener("snapshot", (message) => {
    const snapshot = JSON.parse(message.data);
    page.entries = snapshot.entries.slice();
    if (page.mode !== "watch") page.chat.clear();
    for (const entry of page.entries) page.chat.fromEvent(entry.event);
    showInterrupts(snapshot.interrupts || []);
    if (snapshot.watching) { $("watching").hidden = false; $("watching").textContent = `watching ${snapshot.watching} (another process's runs appear as they happen)`; }
    render();
    resolve();
  });
  source.addEventListener("entry", (message) => {
    const entry = JSON.parse(message.data);
    page.entries.push(entry);
    if (page.mode === "watch") page.chat.fromEvent(entry.event);
    if (page.mode !== "replay") {
      page.timeline.apply(entry);
      // the chat's stream may have told of the pause before this stream caught up
      if (page.interrupts.length) page.timeline.markPaused();
      $("timeline").scrollTop = $("timeline").scrollHeight;
    }
    else $("replay-position").textContent = `${page.position} / ${page.entries.length}`;
  });
  source.addEventListener("reset", () => connect(cid, path, label));
  source.addEventListener("failed", (message) => setStatus(JSON.parse(message.data).error, "error"));
  return page.ready;
}

function openConversation(cid) {
  stopReplay();
  page.mode = "live";
  $("watching").hidden = true;
  return connect(cid, `/api/conversations/${encodeURIComponent(cid)}/timeline`, "conversation");
}

function watchConversation(cid) {
  stopReplay();
  page.mode = "watch";
  page.chat.clear();
  showInterrupts([]);
  return connect(cid, `/api/conversations/${encodeURIComponent(cid)}/watch`, "watching");
}

function newConversation() {
  closeSource();
  stopReplay();
  page.mode = "live";
  page.conversation = null;
  page.entries = [];
  page.chat.clear();
  showInterrupts([]);
  $("watching").hidden = true;
  page.timeline = new Timeline($("timeline"), null);
  showConversation(null);
  $("prompt").focus();
}

async function loadConversations() {
  const list = $("conversations");
  try {
    const body = await getJSON("/api/conversations");
    list.replaceChildren(...body.conversations.map((cid) => {
      const li = el("li", { "data-cid": cid }, el("span", { class: "cid", title: cid, text: cid, onclick: () => openConversation(cid) }));
      if (page.info && page.info.watch) li.append(el("button", { type: "button", title: "Watch it live (Redis stream)", text: "watch", onclick: () => watchConversation(cid) }));
      if (cid === page.conversation) li.classList.add("current");
      return li;
    }));
  } catch (error) {
    list.replaceChildren(el("li", { class: "muted", text: `could not list: ${error.message}` }));
  }
}

// -- human in the loop --------------------------------------------------------------------

function showInterrupts(interrupts) {
  page.interrupts = interrupts;
  page.answers = new Map();
  const box = $("interrupts");
  box.replaceChildren(...interrupts.map((interrupt) => {
    const meta = interrupt.metadata || {};
    const reason = el("input", { type: "text", placeholder: interrupt.reason === "input_required" ? "your answer" : "reason (optional)" });
    const actions = el("div", { class: "actions" });
    if (interrupt.reason === "input_required") {
      actions.append(reason, el("button", { type: "button", class: "primary", text: "Answer", onclick: () => answer(interrupt, { status: "resolved", payload: { text: reason.value } }) }));
    } else {
      actions.append(
        el("button", { type: "button", class: "primary", text: "Approve", onclick: () => answer(interrupt, { status: "resolved", payload: { approved: true } }) }),
        reason,
        el("button", { type: "button", text: "Deny", onclick: () => answer(interrupt, { status: "resolved", payload: reason.value ? { approved: false, reason: reason.value } : { approved: false } }) }),
      );
    }
    return el("div", { class: "interrupt", "data-interrupt": interrupt.id },
      el("strong", { text: interrupt.message || "The agent asks" }),
      meta.tool ? el("pre", { text: `${meta.tool}(${pretty(meta.arguments || "{}")})` }) : null,
      actions);
  }));
  if (interrupts.length && page.timeline) page.timeline.markPaused();
}

function answer(interrupt, response) {
  page.answers.set(interrupt.id, { interruptId: interrupt.id, ...response });
  const node = document.querySelector(`[data-interrupt="${CSS.escape(interrupt.id)}"]`);
  if (node) node.classList.add("pending");
  // The protocol wants every open interrupt answered in one request.
  if (page.answers.size === page.interrupts.length) {
    const resume = Array.from(page.answers.values());
    showInterrupts([]);
    runAgent([], resume);
  }
}

// -- asking ---------------------------------------------------------------------------------

// The chat goes through @ag-ui/client's HttpAgent (vendored: static/agui-client.js), one per
// conversation: it checks the order of the events it reads, and keeps the thread's interrupts.
function aguiAgent() {
  if (!page.agui || page.agui.threadId !== page.conversation) {
    page.agui = new AGUIClient.HttpAgent({ url: "/agui/", threadId: page.conversation });
  }
  return page.agui;
}

async function runAgent(messages, resume) {
  if (page.busy) return;
  page.busy = true;
  $("send").disabled = true;
  setStatus("running…", "running");
  let failed = false;
  try {
    const agent = aguiAgent();
    for (const message of messages) agent.addMessage(message);
    const parameters = { runId: newId("run_") };
    if (resume) parameters.resume = resume;
    await agent.runAgent(parameters, {
      onEvent: ({ event }) => {
        if (event.type === "RUN_ERROR") failed = true;
        onAGUIEvent(event);
      },
    });
    setStatus(page.interrupts.length ? "waiting for you" : failed ? "failed" : "done", page.interrupts.length ? "paused" : failed ? "error" : "done");
  } catch (error) {
    if (!failed) page.chat.bubble("error", String((error && error.message) || error));
    setStatus("failed", "error");
  } finally {
    page.busy = false;
    $("send").disabled = false;
    loadConversations();
  }
}

function onAGUIEvent(event) {
  page.chat.fromAGUI(event);
  if (event.type === "RUN_FINISHED") {
    const outcome = event.outcome || {};
    if (outcome.type === "interrupt") showInterrupts(outcome.interrupts || []);
    if (event.result !== null && event.result !== undefined) page.chat.output(event.result);
  }
}

async function send(text) {
  if (!text.trim() || page.busy) return;
  if (page.mode === "live" && page.conversation) {
    await page.ready;
  } else {
    // A replayed conversation goes on (back to live); a watched one is another process's.
    const keep = page.mode === "replay" && page.conversation;
    await openConversation(keep ? page.conversation : newId("conv_"));
  }
  page.chat.bubble("user", text);
  await runAgent([{ id: newId("msg_"), role: "user", content: text }]);
}

// -- replay ----------------------------------------------------------------------------------

function startReplay() {
  if (!page.conversation || page.mode === "watch") return;
  page.mode = "replay";
  page.position = 0;
  $("replay-controls").hidden = false;
  $("replay").textContent = "Live";
  render(0);
}

function stopReplay() {
  if (page.mode !== "replay") return;
  page.mode = "live";
  $("replay-controls").hidden = true;
  $("replay").textContent = "Replay";
  render();
}

function step(to) {
  page.position = Math.max(0, Math.min(page.entries.length, to));
  render(page.position);
}

// -- start -----------------------------------------------------------------------------------

async function start() {
  page.chat = new Chat($("messages"));
  page.timeline = new Timeline($("timeline"), null);
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("prompt").value;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("composer").requestSubmit(); }
  });
  $("new-conversation").addEventListener("click", newConversation);
  $("refresh").addEventListener("click", loadConversations);
  $("replay").addEventListener("click", () => (page.mode === "replay" ? stopReplay() : startReplay()));
  $("replay-start").addEventListener("click", () => step(0));
  $("replay-back").addEventListener("click", () => step(page.position - 1));
  $("replay-step").addEventListener("click", () => step(page.position + 1));
  $("replay-end").addEventListener("click", () => step(page.entries.length));
  try {
    page.info = await getJSON("/api/info");
    $("agent-name").textContent = page.info.agent;
    $("agent-tools").textContent = page.info.tools.length ? `tools: ${page.info.tools.join(", ")}` : "no tools";
    $("history-kind").textContent = `history: ${page.info.history}`;
  } catch (error) {
    setStatus(`cannot reach the server: ${error.message}`, "error");
  }
  showConversation(null);
  await loadConversations();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
