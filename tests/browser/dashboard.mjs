// The dashboard in headless Chromium with every outside host blocked, as one user: sign in,
// read the landing unit, change the period, switch language, export the table, sort it, drill
// into a child unit, look at it at phone width, survive a refused access token, sign out.
// Nothing is judged against the API here: the script reports what the page showed (as JSON,
// in CDTG_REPORT or artifacts/dashboard-<tag>.json) and tests/api/dashboard.rs compares it with what the API
// answers. It fails by itself only when the page cannot be driven at all.
//
//   CDTG_URL=http://127.0.0.1:PORT CDTG_USERNAME=sontra CDTG_PASSWORD=… [CDTG_DRILL=Phước Mỹ]
//   [CDTG_FOREIGN_UNIT=<id of a unit outside the account's scope>] [CDTG_TAG=sontra]
//   node dashboard.mjs
//
// Optional: CHROMIUM (default /usr/bin/chromium), CDTG_ARTIFACTS (screenshots and the CSV;
// default ./artifacts next to this file).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { blockOutside, launchOffline, localTo } from './offline.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = new URL(process.env.CDTG_URL || 'http://127.0.0.1:8080');
const username = process.env.CDTG_USERNAME;
const password = process.env.CDTG_PASSWORD;
const drill = process.env.CDTG_DRILL || '';
const foreignUnit = process.env.CDTG_FOREIGN_UNIT || '';
const tag = process.env.CDTG_TAG || username;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = path.resolve(process.env.CDTG_ARTIFACTS || path.join(here, 'artifacts'));
const reportFile = path.resolve(process.env.CDTG_REPORT || path.join(artifacts, `dashboard-${tag}.json`));
if (!username || !password) throw new Error('CDTG_USERNAME and CDTG_PASSWORD are needed');
if (base.hostname !== '127.0.0.1') throw new Error('CDTG_URL must be on 127.0.0.1');
mkdirSync(artifacts, { recursive: true });

const outside = [];
const consoleErrors = [];
const isLocal = localTo(base);
let graphqlRequests = [];
let inflight = 0;
let lastActivity = Date.now();

const browser = await launchOffline(executablePath);
const report = { user: username };
let page;
let exitCode = 1;
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  await blockOutside(context, isLocal, outside);
  page = await context.newPage();
  page.on('request', (req) => {
    if (!isLocal(req.url())) outside.push(req.url());
    if (new URL(req.url()).pathname === '/graphql') {
      inflight += 1;
      lastActivity = Date.now();
      const body = JSON.parse(req.postData() || '{}');
      graphqlRequests.push({ op: body.operationName, withText: typeof body.query === 'string' });
    }
  });
  const done = (req) => {
    if (new URL(req.url()).pathname === '/graphql') {
      inflight -= 1;
      lastActivity = Date.now();
    }
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(String(err)));

  // Waits until nothing is loading: no GraphQL request in flight or started for 700 ms, and no
  // region marked aria-busy.
  async function settle() {
    for (let i = 0; i < 600; i += 1) {
      await page.waitForTimeout(100);
      if (inflight > 0 || Date.now() - lastActivity < 700) continue;
      const busy = await page.evaluate(() => Boolean(document.querySelector('[aria-busy="true"]')));
      if (!busy) return;
    }
    throw new Error('the page kept loading for a minute');
  }
  function takeRequests() {
    const taken = graphqlRequests;
    graphqlRequests = [];
    return taken;
  }
  // What the page shows of the current unit.
  const readUnit = () =>
    page.evaluate(() => {
      const text = (el) => (el ? el.textContent.trim() : null);
      const heading = document.querySelector('#unit-name');
      return {
        hash: location.hash,
        name: heading ? heading.firstChild.textContent.trim() : null,
        crumbs: [...document.querySelectorAll('.crumbs li')].map(text),
        cards: Object.fromEntries(
          [...document.querySelectorAll('.card[data-indicator]')].map((c) => [
            c.dataset.indicator,
            { text: text(c.querySelector('.card-value')), targets: [...c.querySelectorAll('.target')].map((t) => ({ state: t.className, text: text(t.querySelector('.target-text')) })) },
          ]),
        ),
        columns: [...document.querySelectorAll('#children thead button')].map((b) => b.dataset.sort),
        rows: [...document.querySelectorAll('#children tbody tr')].map((tr) => ({
          id: tr.dataset.unit,
          name: text(tr.querySelector('th')),
          direct: tr.dataset.direct === 'true',
          cells: Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.key, text(td)])),
        })),
        sections: [...document.querySelectorAll('section h3')].map((h) => h.id),
        overdue: text(document.querySelector('#tasks-overdue .count')),
        submitted: text(document.querySelector('#tasks-submitted .count')),
        quiet: [...document.querySelectorAll('#quiet li')].map(text),
        weekly: [...document.querySelectorAll('#trend-week td')].map((td) => Number(td.dataset.value)),
        monthly: [...document.querySelectorAll('#trend-month td')].map((td) => Number(td.dataset.value)),
        bodyText: document.body.innerText,
      };
    });

  // 1. Sign in.
  const response = await page.goto(new URL('/dashboard', base).href, { waitUntil: 'load' });
  report.status = response.status();
  report.csp = response.headers()['content-security-policy'];
  await page.locator('#username').waitFor({ timeout: 20000 });
  report.signInLabels = await page.evaluate(() => [...document.querySelectorAll('label')].map((l) => [l.htmlFor, l.textContent.trim()]));
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('button[type=submit]').click();
  await page.locator('#unit-name').waitFor({ timeout: 30000 });
  await settle();
  report.landing = await readUnit();
  report.landingRequests = takeRequests();
  report.htmlLang = await page.evaluate(() => document.documentElement.lang);
  await page.screenshot({ path: path.join(artifacts, `dashboard-${tag}-desktop.png`), fullPage: true });

  // 2. Another period costs one request (twice the first time an operation is not yet
  //    persisted), then back to the default.
  await page.locator('#period').selectOption('MONTH');
  await settle();
  report.monthRequests = takeRequests();
  report.month = await readUnit();
  await page.locator('#period').selectOption('YEAR');
  await settle();
  takeRequests();

  // 3. English, then back to Vietnamese.
  await page.locator('#lang-toggle').click();
  await settle();
  report.english = {
    htmlLang: await page.evaluate(() => document.documentElement.lang),
    childrenTitle: await page.locator('#children-title').textContent(),
    exportLabel: await page.locator('#export-csv').textContent(),
    unit: await readUnit(),
  };
  await page.screenshot({ path: path.join(artifacts, `dashboard-${tag}-desktop-en.png`) });
  await page.locator('#lang-toggle').click();
  await settle();
  report.backToVietnamese = await page.locator('#children-title').textContent();

  // 4. The CSV of the table.
  if (await page.locator('#children').count()) {
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#export-csv').click()]);
    const file = path.join(artifacts, `dashboard-${tag}.csv`);
    await download.saveAs(file);
    report.csv = { name: download.suggestedFilename(), text: readFileSync(file, 'utf8') };

    // 5. Sorted by members, most first.
    await page.locator('#children thead button[data-sort="members"]').click();
    report.sortedByMembers = (await readUnit()).rows.map((r) => r.id);
    report.ariaSort = await page.locator('#children thead th:has(button[data-sort="members"])').getAttribute('aria-sort');
  }

  // 6. Drill down into a child unit, with the keyboard.
  if (drill) {
    const link = page.locator('#children tbody th a', { hasText: drill });
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction((name) => document.querySelector('#unit-name')?.firstChild.textContent.trim() === name, drill, { timeout: 30000 });
    await settle();
    report.drilled = await readUnit();
    report.drillRequests = takeRequests();
  }

  // 6b. A unit outside the scope, typed into the address: nothing of it shows.
  if (foreignUnit) {
    await page.evaluate((id) => {
      location.hash = `#/unit/${encodeURIComponent(id)}`;
    }, foreignUnit);
    await page.locator('#not-in-scope, #unit-name').first().waitFor({ timeout: 30000 });
    await settle();
    report.foreign = {
      notice: await page.locator('#not-in-scope').count(),
      unitName: await page.locator('#unit-name').count(),
      bodyText: await page.evaluate(() => document.body.innerText),
    };
    await page.locator('#not-in-scope a').click();
    await page.locator('#unit-name').waitFor({ timeout: 30000 });
    await settle();
    takeRequests();
  }

  // 7. Phone width: no horizontal scrolling, no tiny text, at 360 px (the narrowest supported)
  //    and at 390×844 (the screenshots).
  const measure = () =>
    page.evaluate(() => {
      let minFont = Infinity;
      for (const el of document.querySelectorAll('body *')) {
        if (el.closest('.sr-only') || !el.offsetParent) continue;
        const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
        if (own && el.tagName !== 'text') minFont = Math.min(minFont, parseFloat(getComputedStyle(el).fontSize));
      }
      return { scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth, minFont };
    });
  await page.setViewportSize({ width: 360, height: 740 });
  await settle();
  report.narrow = await measure();
  await page.setViewportSize({ width: 390, height: 844 });
  await settle();
  report.phone = await measure();
  await page.screenshot({ path: path.join(artifacts, `dashboard-${tag}-phone.png`) });
  await page.screenshot({ path: path.join(artifacts, `dashboard-${tag}-phone-full.png`), fullPage: true });

  report.consoleErrors = [...consoleErrors];

  // 8. A refused access token is renewed silently with the refresh token.
  const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cdtg.dashboard.session')));
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('cdtg.dashboard.session'));
    sessionStorage.setItem('cdtg.dashboard.session', JSON.stringify({ ...s, accessToken: 'not-a-token' }));
  });
  await page.reload({ waitUntil: 'load' });
  await page.locator('#unit-name').waitFor({ timeout: 30000 });
  await settle();
  const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem('cdtg.dashboard.session')));
  report.refresh = {
    shown: await page.locator('#unit-name').count(),
    rotated: Boolean(after && after.refreshToken !== before.refreshToken && after.accessToken !== 'not-a-token'),
    requests: takeRequests(),
  };

  // 9. Signing out ends the session: the form is back and nothing is stored.
  const lastRefresh = after && after.refreshToken;
  await page.locator('#sign-out').click();
  await page.locator('#username').waitFor({ timeout: 20000 });
  await settle();
  report.signOut = {
    stored: await page.evaluate(() => sessionStorage.getItem('cdtg.dashboard.session')),
    refreshToken: lastRefresh,
  };
  report.outside = outside;
  report.cspErrors = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
  exitCode = 0;
} catch (err) {
  console.error(err && err.stack ? err.stack : String(err));
  if (outside.length) console.error(`requests to other hosts: ${JSON.stringify(outside)}`);
  if (consoleErrors.length) console.error(`browser console errors: ${JSON.stringify(consoleErrors)}`);
  if (page) {
    await page.screenshot({ path: path.join(artifacts, `dashboard-${tag}-failure.png`), fullPage: true }).catch(() => {});
    console.error(`screenshot: ${path.join(artifacts, `dashboard-${tag}-failure.png`)}`);
  }
} finally {
  await browser.close();
}
writeFileSync(reportFile, JSON.stringify(report));
console.log(`report: ${reportFile}`);
process.exit(exitCode);
