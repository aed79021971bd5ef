// A client of Baton's MCP server written with the official Node SDK (@modelcontextprotocol/sdk).
// test_server_node.py runs it with node 22 from tests/node (where the SDK is installed) and
// reads one JSON line from stdout. What to connect to comes in BATON_PEER (JSON):
//   {"stdio": {"command": ..., "args": [...], "env": {...}, "cwd": ...}}
//   {"http": {"url": ..., "token": ...}}
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const peer = JSON.parse(process.env.BATON_PEER);
const transport = peer.stdio
  ? new StdioClientTransport(peer.stdio)
  : new StreamableHTTPClientTransport(new URL(peer.http.url), {
      requestInit: { headers: { Authorization: `Bearer ${peer.http.token}` } },
    });

const client = new Client(
  { name: "baton-node-peer", version: "1.0.0" },
  { capabilities: { elicitation: {} } },
);
const elicited = [];
client.setRequestHandler(ElicitRequestSchema, async (request) => {
  elicited.push(request.params.message);
  return { action: "accept", content: { answer: "purple" } };
});

await client.connect(transport);
const report = { server: client.getServerVersion(), protocol: transport.protocolVersion ?? null };
report.tools = (await client.listTools()).tools.map((t) => t.name);

const first = await client.callTool({ name: "ask", arguments: { prompt: "add 6 7" } });
report.first = first.content[0].text;
const conversation = first.structuredContent.conversation_id;
const second = await client.callTool({
  name: "ask",
  arguments: { prompt: "go on", conversation_id: conversation },
});
report.second = second.content[0].text;
// The SDK handles a notification a tick after reading it but settles a response at once, so
// progress read together with the result may be dropped; the elicitation round trip in this
// call makes the progress sent before it arrive first.
const progress = [];
const asked = await client.callTool({ name: "ask", arguments: { prompt: "ask mood?" } }, undefined, {
  onprogress: (p) => progress.push(p.message),
});
report.asked = asked.content[0].text;
report.progress = progress;
report.elicited = elicited;
const failed = await client.callTool({ name: "ask", arguments: { prompt: "crash" } });
report.failed = { isError: failed.isError === true, text: failed.content[0].text };

await client.close();
process.stdout.write(JSON.stringify(report) + "\n");
