// A client of a team Baton serves over A2A, written with the official JavaScript SDK
// (@a2a-js/sdk): it sends `first`, then answers each input-required task with the next of
// `answers` (a message carrying that taskId), and reports every task state and status text.
// test_a2a_node_client.py runs it; BATON_PEER (JSON): {url, token, binding, first, answers}.
// As in client_peer.mjs: `role` is the numeric enum, a text part {content: {$case: "text"}}.
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
const INPUT_REQUIRED = 6;
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

const steps = [];
let task = await client.sendMessage({ message: message(peer.first) });
const answers = [...peer.answers];
for (;;) {
  steps.push({ task: task.id, state: task.status.state, text: textOf(task.status.message?.parts) });
  if (task.status.state !== INPUT_REQUIRED || answers.length === 0) break;
  const ids = { contextId: task.contextId, taskId: task.id };
  task = await client.sendMessage({ message: message(answers.shift(), ids) });
}
console.log(JSON.stringify({ steps, contextId: task.contextId }));
