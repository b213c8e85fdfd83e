// Headless Chromium that cannot reach anything but the server under test, shared by the
// browser tests (graphiql.mjs, dashboard.mjs).
import { chromium } from 'playwright-core';

/** Whether `url` is the server under test (or a data:, blob: or about: URL). */
export function localTo(base) {
  return (url) => {
    const u = new URL(url);
    if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
    return u.hostname === base.hostname && u.port === base.port;
  };
}

/** Debian's Chromium, headless, with name resolution failing for every host but 127.0.0.1. */
export function launchOffline(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      // Name resolution fails for every host but the loopback address: nothing can leave.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
}

/** Aborts every request of `context` that is not local, recording its URL in `outside`. */
export function blockOutside(context, isLocal, outside) {
  return context.route('**/*', (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    outside.push(url);
    return route.abort('blockedbyclient');
  });
}
