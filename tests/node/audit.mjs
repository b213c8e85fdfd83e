// Runs the graphql-http server audits (GraphQL-over-HTTP conformance) against a live CDTG.
// Usage: node audit.mjs <http://127.0.0.1:PORT/graphql> <access token>
// Prints one line per audit and a closing summary; exits 1 on any failed MUST audit.
import { serverAudits } from 'graphql-http';

const [url, token] = process.argv.slice(2);
if (!url || !token) {
  console.error('usage: node audit.mjs <url> <token>');
  process.exit(2);
}

// There is no headers option: a fetch that adds the bearer token to every audit request.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const counts = { MUST: { ok: 0, failed: 0 }, SHOULD: { ok: 0, failed: 0 }, MAY: { ok: 0, failed: 0 } };
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  const level = audit.name.split(' ')[0];
  const ok = result.status === 'ok';
  counts[level][ok ? 'ok' : 'failed'] += 1;
  console.log(`${ok ? 'ok' : result.status.toUpperCase()} - ${audit.name}${ok ? '' : ` — ${result.reason}`}`);
}
for (const level of ['MUST', 'SHOULD', 'MAY']) {
  console.log(`${level}: ${counts[level].ok} ok, ${counts[level].failed} not met`);
}
process.exit(counts.MUST.failed === 0 ? 0 : 1);
