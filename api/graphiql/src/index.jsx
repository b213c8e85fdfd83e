// The CDTG explorer: GraphiQL with a token bar. Everything here is bundled by build.mjs into
// one JS and one CSS file that the server itself serves, so the page works with no internet.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { createClient } from 'graphql-ws';
import 'graphiql/style.css';
import './page.css';
import { defaultTabs } from './examples.js';

const TOKEN_KEY = 'cdtg.graphiql.token';
const endpoint = new URL('/graphql', window.location.href);
const wsEndpoint = new URL(endpoint);
wsEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

function readToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

function saveToken(token) {
  try {
    if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
    else window.sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused (private mode): the token lives in memory only.
  }
}

function cleanToken(raw) {
  return raw.trim().replace(/^Bearer\s+/i, '');
}

async function login(username, password) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      query:
        'mutation Login($input: LoginInput!) { login(input: $input) { accessToken user { username role } } }',
      variables: { input: { username, password } },
    }),
  });
  const body = await res.json().catch(() => ({}));
  const payload = body && body.data && body.data.login;
  if (!payload) {
    const message = (body.errors && body.errors[0] && body.errors[0].message) || `HTTP ${res.status}`;
    throw new Error(message);
  }
  return payload;
}

function TokenBar({ token, onToken, who }) {
  const [draft, setDraft] = useState(token);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [status, setStatus] = useState('');
  useEffect(() => setDraft(token), [token]);

  const useDraft = (e) => {
    e.preventDefault();
    onToken(cleanToken(draft), null);
    setStatus(draft.trim() ? 'Token set.' : 'Token cleared.');
  };
  const signIn = async (e) => {
    e.preventDefault();
    setStatus('Signing in…');
    try {
      const payload = await login(username, password);
      setPassword('');
      onToken(payload.accessToken, payload.user);
      setStatus(`Signed in as ${payload.user.username} (${payload.user.role || 'no role'}).`);
    } catch (err) {
      setStatus(`Sign-in failed: ${err.message}`);
    }
  };

  return (
    <header className="cdtg-bar">
      <strong className="cdtg-title">CDTG API explorer</strong>
      <form className="cdtg-form" onSubmit={useDraft} aria-label="Access token">
        <input
          id="cdtg-token"
          type="password"
          placeholder="Paste an access token"
          autoComplete="off"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
        <button id="cdtg-use-token" type="submit">Use token</button>
        <button
          id="cdtg-clear-token"
          type="button"
          onClick={() => {
            setDraft('');
            onToken('', null);
            setStatus('Token cleared.');
          }}
        >
          Clear
        </button>
      </form>
      <form className="cdtg-form" onSubmit={signIn} aria-label="Sign in">
        <input
          id="cdtg-username"
          placeholder="username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
        />
        <input
          id="cdtg-password"
          type="password"
          placeholder="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button id="cdtg-sign-in" type="submit">Sign in</button>
      </form>
      <span id="cdtg-status" className="cdtg-status" role="status">
        {status || (token ? `Token set${who ? ` (${who})` : ''}.` : 'Not signed in: only login works.')}
      </span>
    </header>
  );
}

function App() {
  const [token, setToken] = useState(readToken);
  const [who, setWho] = useState('');

  const onToken = useCallback((next, user) => {
    saveToken(next);
    setToken(next);
    setWho(user ? `${user.username}, ${user.role || 'no role'}` : '');
  }, []);

  // A new fetcher (and WebSocket client) per token: GraphiQL then fetches the schema again
  // with the new Authorization header, and subscriptions send the token in connection_init.
  const { fetcher, wsClient } = useMemo(() => {
    const authorization = token ? `Bearer ${token}` : undefined;
    const client = createClient({
      url: wsEndpoint.href,
      lazy: true,
      connectionParams: authorization ? { authorization } : {},
    });
    return {
      wsClient: client,
      fetcher: createGraphiQLFetcher({
        url: endpoint.href,
        headers: authorization ? { Authorization: authorization } : {},
        wsClient: client,
      }),
    };
  }, [token]);
  useEffect(() => () => wsClient.dispose(), [wsClient]);

  return (
    <div className="cdtg-page">
      <TokenBar token={token} onToken={onToken} who={who} />
      <div className="cdtg-graphiql">
        <GraphiQL fetcher={fetcher} defaultTabs={defaultTabs} defaultEditorToolsVisibility="variables">
          <GraphiQL.Logo>CDTG</GraphiQL.Logo>
        </GraphiQL>
      </div>
    </div>
  );
}

createRoot(document.getElementById('graphiql')).render(<App />);
