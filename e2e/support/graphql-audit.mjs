// GraphQL-over-HTTP conformance audit (COMPONENTS.md §6). Exit 1 on a failed MUST;
// `warn` = SHOULD, `notice` = MAY. TOKEN=… adds a bearer token.
// Imports resolve only beside node_modules, so run the copy in the node dir:
//   node "$OPSDECK_TEST_NODE_DIR/graphql-audit.mjs" http://127.0.0.1:PORT/graphql
import { serverAudits } from 'graphql-http';

if (!process.argv[2] || process.argv[2] === '--help') {
  console.error('usage: graphql-audit.mjs URL   (TOKEN=… for a bearer token)');
  process.exit(2);
}
const auth = process.env.TOKEN ? { authorization: `Bearer ${process.env.TOKEN}` } : {};
const fetchFn = (url, init = {}) =>
  fetch(url, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), ...auth } });
let ok = 0, failed = 0;
for (const audit of serverAudits({ url: process.argv[2], fetchFn })) {
  const r = await audit.fn();
  if (r.status === 'ok') { ok++; continue; }
  if (r.status === 'error') failed++;
  console.log(`${r.status} ${r.id} ${r.name}: ${r.reason}`);
}
console.log(`graphql-http audits: ${ok} ok, ${failed} MUST failures`);
process.exit(failed ? 1 : 0);
