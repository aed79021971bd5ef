// What every node client of Baton's A2A server starts with (prepended to client_peer.mjs and
// team_peer.mjs by the tests: node_peers.run_script's `prelude`): a client made with the
// official JavaScript SDK (@a2a-js/sdk) from BATON_PEER (JSON: {url, token, binding, ...}),
// the bearer token on every request, and `message` / `textOf` for the SDK's protobuf-shaped
// messages: `role` is the numeric enum and a text part is {content: {$case: "text", value}}
// (a {text} part would be sent empty).
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
