// Subscribes to taskEvents with the reference client, graphql-ws, over graphql-transport-ws.
// Usage: node subscribe.mjs <ws://127.0.0.1:PORT/graphql> <access token> <group id> <events>
// Prints "ready" once subscribed, then each event as one JSON line; exits 0 after <events>
// events, 1 on error or after 20 s.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, groupId, wanted] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { connected: () => console.log('ready') },
});

let seen = 0;
const timer = setTimeout(() => {
  console.error(`timeout after ${seen} events`);
  process.exit(1);
}, 20_000);

client.subscribe(
  {
    query: 'subscription($g: ID) { taskEvents(groupId: $g) { kind task { title status } } }',
    variables: { g: groupId },
  },
  {
    next: (msg) => {
      console.log(JSON.stringify(msg));
      seen += 1;
      if (seen >= Number(wanted)) {
        clearTimeout(timer);
        client.dispose();
        process.exit(0);
      }
    },
    error: (err) => {
      console.error('error', JSON.stringify(err?.message ?? err));
      process.exit(1);
    },
    complete: () => {},
  },
);
