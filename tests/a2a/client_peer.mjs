// A client of Baton's A2A server written with the official JavaScript SDK (@a2a-js/sdk 1.3).
// test_server_node.py runs it with node 22 from tests/node (where the SDK is installed) and
// reads one JSON line from stdout. BATON_PEER (JSON): {"url": ..., "token": ..., "binding": ...}
// The SDK's messages are protobuf-shaped: `role` is the numeric enum and a text part is
// {content: {$case: "text", value}} (a {text} part would be sent empty).
import { randomUUID } from "node:crypto";
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
} from "@a2a-js/sdk/client";

const peer = JSON.parse(process.env.BATON_PEER);
const ROLE_USER = 1;
const authed = (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  headers.set("Authorization", `Bearer ${peer.token}`);
  return fetch(input, { ...init, headers });
};
const factory = new ClientFactory(
  ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [
      new JsonRpcTransportFactory({ fetchImpl: authed }),
      new RestTransportFactory({ fetchImpl: authed }),
    ],
    preferredTransports: [peer.binding],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl: authed }),
  }),
);
const client = await factory.createFromUrl(peer.url);

const message = (text, ids = {}) => ({
  messageId: randomUUID(),
  role: ROLE_USER,
  parts: [{ content: { $case: "text", value: text } }],
  ...ids,
});
const textOf = (parts) =>
  (parts ?? []).filter((p) => p.content?.$case === "text").map((p) => p.content.value).join("\n");

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
