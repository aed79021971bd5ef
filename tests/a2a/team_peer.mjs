// A client of a team Baton serves over A2A, run after a2a_client.mjs (its `peer`, `client`,
// `message`, `textOf`): it sends `first`, then answers each input-required task with the next
// of `answers` (a message carrying that taskId), and reports every task state and status text.
// test_a2a_node_client.py runs it; BATON_PEER (JSON): {url, token, binding, first, answers}.
const INPUT_REQUIRED = 6;

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
