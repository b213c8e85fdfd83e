// The offline GraphiQL page in headless Chromium with every outside host blocked:
// the page loads, a pasted token lets GraphiQL introspect, a query runs and shows its result,
// a subscription receives a live event, and no request to another host is ever attempted.
//
//   CDTG_URL=http://127.0.0.1:PORT CDTG_USERNAME=admin CDTG_PASSWORD=… node graphiql.mjs
//
// Optional: CHROMIUM (default /usr/bin/chromium), CDTG_ARTIFACTS (screenshots; default
// ./artifacts next to this file). Exits 0 when every check passed. Driven by
// tests/api/graphiql.rs, which starts the real server with a fixture.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { blockOutside, launchOffline, localTo } from './offline.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = new URL(process.env.CDTG_URL || 'http://127.0.0.1:8080');
const username = process.env.CDTG_USERNAME || 'admin';
const password = process.env.CDTG_PASSWORD;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = path.resolve(process.env.CDTG_ARTIFACTS || path.join(here, 'artifacts'));
if (!password) throw new Error('CDTG_PASSWORD is not set');
if (base.hostname !== '127.0.0.1') throw new Error('CDTG_URL must be on 127.0.0.1');
mkdirSync(artifacts, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`ok - ${message}`);
}

async function gql(query, variables, token) {
  const res = await fetch(new URL('/graphql', base), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

// Requests to anything but the server under test: recorded here, and aborted.
const outside = [];
const isLocal = localTo(base);

const browser = await launchOffline(executablePath);
let exitCode = 1;
let page;
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1500, height: 950 } });
  await blockOutside(context, isLocal, outside);
  page = await context.newPage();
  page.on('request', (req) => {
    if (!isLocal(req.url())) outside.push(req.url());
  });
  page.on('websocket', (ws) => {
    if (!isLocal(ws.url().replace(/^ws/, 'http'))) outside.push(ws.url());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));

  // 1. The page loads and renders GraphiQL from same-origin assets only.
  const response = await page.goto(new URL('/graphiql', base).href, { waitUntil: 'load' });
  check(response.status() === 200, 'GET /graphiql answers 200');
  await page.locator('.graphiql-container').waitFor({ timeout: 20000 });
  check(true, 'GraphiQL rendered');
  const tabs = await page.locator('.graphiql-tab').allInnerTexts();
  check(tabs.length >= 6, `opens with example tabs (${tabs.map((t) => t.trim()).join(', ')})`);

  // 2. Paste a token (obtained through the login mutation, as an integrator would).
  const { login } = await gql(
    'mutation($input: LoginInput!) { login(input: $input) { accessToken } }',
    { input: { username, password } },
  );
  const introspected = page.waitForResponse(
    (res) =>
      res.url().endsWith('/graphql') &&
      (res.request().postData() || '').includes('__schema') &&
      res.request().headers().authorization === `Bearer ${login.accessToken}`,
    { timeout: 20000 },
  );
  await page.locator('#cdtg-token').fill(login.accessToken);
  await page.locator('#cdtg-use-token').click();
  const introspection = await introspected;
  const schema = await introspection.json();
  check(
    introspection.status() === 200 && schema.data && schema.data.__schema,
    'introspection ran with the pasted token',
  );

  // 3. Run the first example (the city dashboard) and read the result pane.
  const resultText = () =>
    page.evaluate(() => {
      const cm = document.querySelector('.result-window .CodeMirror');
      return cm && cm.CodeMirror ? cm.CodeMirror.getValue() : '';
    });
  await page.locator('.graphiql-tab').first().click();
  await page.locator('.graphiql-execute-button').click();
  await page.waitForFunction(
    () => {
      const cm = document.querySelector('.result-window .CodeMirror');
      return cm && cm.CodeMirror && cm.CodeMirror.getValue().includes('"data"');
    },
    null,
    { timeout: 20000 },
  );
  const result = JSON.parse(await resultText());
  check(!result.errors, 'the query answered without errors');
  check(result.data.me.username === username, `result shows me.username = ${username}`);
  check(result.data.groups.totalCount > 0, `result lists ${result.data.groups.totalCount} groups`);
  await page.screenshot({ path: path.join(artifacts, 'graphiql-query.png') });
  console.log(`screenshot: ${path.join(artifacts, 'graphiql-query.png')}`);

  // 4. Subscriptions: run taskEvents over graphql-ws (token in connection_init), then create a
  //    task through the API and wait for the event in the result pane.
  await page.locator('.graphiql-tab', { hasText: 'TaskEvents' }).click();
  // GraphiQL updates the tab's operation name shortly after the editor shows the new query.
  await page.waitForTimeout(1000);
  // Listen for the ack from the moment the socket exists: on loopback it can arrive before a
  // listener attached after awaiting the socket would be in place.
  const acked = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection_ack within 20 s')), 20000);
    page.on('websocket', (ws) => {
      ws.on('framereceived', (frame) => {
        if (String(frame.payload).includes('connection_ack')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });
  await page.locator('.graphiql-execute-button').click();
  await acked;
  check(true, 'graphql-ws connection acknowledged (token sent in connection_init)');
  await page.waitForTimeout(500);
  const { groups } = await gql('{ groups(first: 1) { nodes { id } } }', {}, login.accessToken);
  await gql(
    'mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }',
    { i: { groupId: groups.nodes[0].id, title: 'Việc từ GraphiQL', kind: 'APP_INSTALL', target: 5 } },
    login.accessToken,
  );
  await page.waitForFunction(
    () => {
      const cm = document.querySelector('.result-window .CodeMirror');
      return cm && cm.CodeMirror && cm.CodeMirror.getValue().includes('Việc từ GraphiQL');
    },
    null,
    { timeout: 20000 },
  );
  const event = JSON.parse(await resultText());
  check(event.data.taskEvents.kind === 'ASSIGNED', 'the subscription showed the ASSIGNED event');
  await page.screenshot({ path: path.join(artifacts, 'graphiql-subscription.png') });
  console.log(`screenshot: ${path.join(artifacts, 'graphiql-subscription.png')}`);

  // 5. Nothing was even attempted outside the server.
  check(outside.length === 0, `no request to another host (${JSON.stringify(outside)})`);
  const cspErrors = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
  check(cspErrors.length === 0, `no Content-Security-Policy violation ${JSON.stringify(cspErrors)}`);
  exitCode = 0;
} catch (err) {
  console.error(err && err.stack ? err.stack : String(err));
  if (outside.length) console.error(`requests to other hosts: ${JSON.stringify(outside)}`);
  if (consoleErrors.length) console.error(`browser console errors: ${JSON.stringify(consoleErrors)}`);
  if (page) {
    const pane = await page
      .evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue())
      .catch(() => undefined);
    console.error(`result pane: ${pane}`);
    await page.screenshot({ path: path.join(artifacts, 'graphiql-failure.png') }).catch(() => {});
    console.error(`screenshot: ${path.join(artifacts, 'graphiql-failure.png')}`);
  }
} finally {
  await browser.close();
}
process.exit(exitCode);
