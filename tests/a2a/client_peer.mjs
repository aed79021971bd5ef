// A client of Baton's A2A server written with the official JavaScript SDK (@a2a-js/sdk 1.3),
// run after a2a_client.mjs (its `peer`, `client`, `message`, `textOf`); it prints one JSON line,
// the report test_a2a_node_client.py reads.
const report = {};
// 1. One message, one answer.
const first = await client.sendMessage({ message: message("hi") });
report.first = { state: first.status.state, text: textOf(first.status.message?.parts) };
const context = { contextId: first.contextId };

// 2. Streamed, in the same context: the answer arrives in pieces.
const kinds = [];
const pieces = [];
let last;
for await (const event of client.sendMessageStream({ message: message("and now?", context) })) {
  const payload = event.payload ?? { $case: "unknown" };
  kinds.push(payload.$case);
  if (payload.$case === "artifactUpdate" && !payload.value.lastChunk) {
    pieces.push(textOf(payload.value.artifact.parts));
  }
  last = payload;
}
report.streamed = { kinds, pieces, state: last.value.status?.state };

// 3. An approval: input-required, answered with "yes" on the same task.
const asked = await client.sendMessage({ message: message("delete a.txt", context) });
report.asked = { state: asked.status.state, text: textOf(asked.status.message?.parts) };
const approvedEvents = [];
for await (const event of client.sendMessageStream({
  message: message("yes", { ...context, taskId: asked.id }),
})) {
  approvedEvents.push(event.payload);
}
const end = approvedEvents.at(-1).value;
report.approved = { first: approvedEvents[0].$case, state: end.status.state, text: textOf(end.status.message?.parts) };

// 4. Cancel a running task (its tool waits for ever), then read it back.
let cancelled;
for await (const event of client.sendMessageStream({ message: message("wait", context) })) {
  const payload = event.payload;
  if (payload?.$case === "statusUpdate" && payload.value.metadata?.baton && !cancelled) {
    cancelled = await client.cancelTask({ id: payload.value.taskId });
    break;
  }
}
report.cancelled = cancelled.status.state;
report.afterCancel = (await client.getTask({ id: cancelled.id })).status.state;
console.log(JSON.stringify(report));
