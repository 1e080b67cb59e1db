// graphql-ws (graphql-transport-ws) client (COMPONENTS.md §6): prints each event as a JSON line,
// stops after MAX events; exit 1 when the server closes with an error, 2 on a 10 s timeout.
// TOKEN=… is sent as the connection_init payload { token }.
// Imports resolve only beside node_modules, so run the copy in the node dir:
//   node "$OPSDECK_TEST_NODE_DIR/ws-subscribe.mjs" ws://127.0.0.1:PORT/graphql 'subscription { … }' [MAX]
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';                                // Node 20 has no global WebSocket

if (process.argv.length < 4 || process.argv[2] === '--help') {
  console.error('usage: ws-subscribe.mjs URL QUERY [MAX]   (TOKEN=… for connection_init)');
  process.exit(2);
}
const [url, query, max = '10'] = process.argv.slice(2);
const client = createClient({ url, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0,
  connectionParams: { token: process.env.TOKEN ?? '' } });  // the connection_init payload
setTimeout(() => { console.error('timeout'); process.exit(2); }, 10_000).unref();
let n = 0;
try {
  for await (const event of client.iterate({ query })) {
    console.log(JSON.stringify(event));
    if (++n >= Number(max)) break;
  }
} catch (err) { console.error('closed', err?.code, err?.reason ?? err?.message); process.exitCode = 1; }
await client.dispose();
