// Drives Baton's AG-UI endpoint with the official client (@ag-ui/client's HttpAgent, which
// verifies event order) and validates every event on the wire against @ag-ui/core's schemas.
//
// Reads a plan from $BATON_AGUI_PLAN: {url, token, threadId, tools, state, steps: [...]}, each step one
// of {user: "text"} (add a user message, run), {toolResult: "text"} (answer every pending
// front-end tool call with a tool message, run), {resolve: payload} or {cancel: true}
// (answer every open interrupt with buildResumeArray, run), {url: "..."} (talk to another
// replica from now on). Prints one JSON object: a report per run, the final messages.
import { HttpAgent, buildResumeArray } from "@ag-ui/client";
import { EventSchema } from "@ag-ui/core/schemas";

const plan = JSON.parse(process.env.BATON_AGUI_PLAN);

const warnings = [];
const warn = console.warn;
console.warn = (...args) => {
  warnings.push(args.map(String).join(" "));
  warn(...args);
};

// Every event as it came over the wire, before the client touches it.
let wire = [];
let parsing = [];
async function readWire(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) wire.push(JSON.parse(data));
    }
  }
}
async function teeFetch(url, init) {
  const response = await fetch(url, init);
  if (!response.body) return response;
  const [mine, theirs] = response.body.tee();
  parsing.push(readWire(mine));
  return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers });
}

const headers = plan.token ? { Authorization: `Bearer ${plan.token}` } : {};
const agent = new HttpAgent({ url: plan.url, headers, threadId: plan.threadId, fetch: teeFetch, initialState: plan.state ?? {} });
const tools = plan.tools ?? [];
const runs = [];
let pendingToolCallIds = [];

async function run(parameters) {
  wire = [];
  parsing = [];
  const report = { events: [], schemaErrors: [], error: null, outcome: null, pendingToolCallIds: [], interrupts: [], status: null };
  try {
    await agent.runAgent({ tools, ...parameters }, {
      onRunFinishedEvent(params) {
        report.outcome = params.outcome;
        if (params.outcome === "success") report.pendingToolCallIds = params.pendingToolCallIds;
        if (params.outcome === "interrupt") report.interrupts = params.interrupts;
      },
      onRunErrorEvent({ event }) {
        report.runError = { message: event.message, code: event.code ?? null };
      },
    });
  } catch (error) {
    report.error = String(error?.message ?? error);
  }
  await Promise.all(parsing);
  report.events = wire;
  for (const event of wire) {
    const checked = EventSchema.safeParse(event);
    if (!checked.success) report.schemaErrors.push({ type: event.type, issues: checked.error.issues });
  }
  pendingToolCallIds = report.pendingToolCallIds;
  runs.push(report);
}

for (const step of plan.steps) {
  if (step.url !== undefined) {
    agent.url = step.url;
  } else if (step.user !== undefined) {
    agent.addMessage({ id: crypto.randomUUID(), role: "user", content: step.user });
    await run({});
  } else if (step.toolResult !== undefined) {
    for (const toolCallId of pendingToolCallIds) {
      agent.addMessage({ id: crypto.randomUUID(), role: "tool", toolCallId, content: step.toolResult });
    }
    await run({});
  } else if (step.resolve !== undefined || step.cancel !== undefined) {
    const answers = {};
    for (const interrupt of agent.pendingInterrupts) {
      answers[interrupt.id] = step.cancel ? { status: "cancelled" } : { status: "resolved", payload: step.resolve };
    }
    await run({ resume: buildResumeArray(agent.pendingInterrupts, answers) });
  }
}

process.stdout.write(JSON.stringify({ runs, messages: agent.messages, state: agent.state, warnings }));
