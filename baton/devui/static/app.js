// The baton dev page: chat over the agent's AG-UI endpoint (/agui/) through @ag-ui/client
// (agui-client.js), the timeline (timeline.js) from the dev server's own API (/api/...). Plain
// browser JavaScript, no outside requests. Everything shown is set as text (never parsed as
// HTML): a model's output can't script the page.
"use strict";

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

  // A team's member signs its messages (an agent's own are not signed).
  author(node, name) {
    if (name && page.info && page.info.members) node.dataset.author = name;
    return node;
  }

  // A stored or watched event (not this page's own AG-UI run).
  fromEvent(event) {
    switch (event.type) {
      case "ModelRequest": this.bubble("user", partsText(event.parts)); break;
      case "ModelResponse":
        if (event.reasoning) this.bubble("reasoning", event.reasoning);
        if (event.text) this.author(this.bubble("assistant", event.text), event.agent);
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
      case "TEXT_MESSAGE_START": this.open.set(event.messageId, this.author(this.bubble("assistant", ""), event.name)); break;
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
  stored: -1, // the index of the last stored event the timeline has
};

function addEntry(entry) {
  // A stored event arrives once: the live stream and a catch-up may both bring it.
  if (entry.index !== null && entry.index !== undefined) {
    if (entry.index <= page.stored) return false;
    page.stored = entry.index;
  }
  page.entries.push(entry);
  return true;
}

// After a run, what was stored once its last run had closed (a team's end) is read back.
async function catchUp() {
  if (page.mode !== "live" || !page.conversation) return;
  try {
    const snapshot = await getJSON(`/api/conversations/${encodeURIComponent(page.conversation)}/events`);
    for (const entry of snapshot.entries) {
      if (addEntry(entry)) page.timeline.apply(entry);
    }
  } catch (error) {
    // the live stream still has what it had; the next open reloads the rest
  }
}

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
    page.stored = page.entries.length - 1;
    if (page.mode !== "watch") page.chat.clear();
    for (const entry of page.entries) page.chat.fromEvent(entry.event);
    showInterrupts(snapshot.interrupts || []);
    if (snapshot.watching) { $("watching").hidden = false; $("watching").textContent = `watching ${snapshot.watching} (another process's runs appear as they happen)`; }
    render();
    resolve();
  });
  source.addEventListener("entry", (message) => {
    const entry = JSON.parse(message.data);
    if (!addEntry(entry)) return;
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
    catchUp();
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
    $("agent-tools").textContent = page.info.members
      ? `team of ${page.info.members.join(", ")}`
      : page.info.tools.length ? `tools: ${page.info.tools.join(", ")}` : "no tools";
    $("history-kind").textContent = `history: ${page.info.history}`;
  } catch (error) {
    setStatus(`cannot reach the server: ${error.message}`, "error");
  }
  showConversation(null);
  await loadConversations();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", start);
