// The officials' dashboard: sign in, land on your unit, read its indicators against their
// targets, compare its child units, follow the trends, act on tasks, find quiet groups.
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import './style.css';
import { currentSession, login, logout, onSession, query } from './api.js';
import { INDICATORS, TABLE_INDICATORS, TREND_INDICATORS, byTarget } from './indicators.js';
import { TEXT } from './i18n.js';
import { addDays, addMonths, collator, formatDate, formatNumber, formatValue, monday, today } from './format.js';

/** Roles that read tasks and groups and act on them; VIEWER reads aggregates only. */
const ACTING_ROLES = ['CITY_ADMIN', 'DISTRICT_OFFICER', 'WARD_LEADER'];
const PERIODS = ['MONTH', 'LAST_MONTH', 'QUARTER', 'YEAR', 'LAST_YEAR', 'ALL'];

function periodInput(choice) {
  const day = today();
  switch (choice) {
    case 'MONTH': return { kind: 'MONTH', date: day };
    case 'LAST_MONTH': return { kind: 'MONTH', date: addMonths(day, -1) };
    case 'QUARTER': return { kind: 'QUARTER', date: day };
    case 'YEAR': return { kind: 'YEAR', date: day };
    case 'LAST_YEAR': return { kind: 'YEAR', date: `${Number(day.slice(0, 4)) - 1}-06-30` };
    default: return null;
  }
}

function routeUnit() {
  const m = location.hash.match(/^#\/unit\/([^/?#]+)/);
  return m ? decodeURIComponent(m[1]) : null;
}

/** Loads `name` with `variables` whenever `key` changes; `{ data, error, reload }`. */
function useQuery(name, variables, key, enabled = true) {
  const [state, setState] = useState({ loading: enabled });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    if (!enabled) return undefined;
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    query(name, variables).then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [key, nonce, enabled]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

function App() {
  const [lang, setLang] = useState(() => (localStorage.getItem('cdtg.dashboard.lang') === 'en' ? 'en' : 'vi'));
  const [session, setSession] = useState(currentSession());
  const t = TEXT[lang];
  useEffect(() => onSession(setSession), []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t.title;
    localStorage.setItem('cdtg.dashboard.lang', lang);
  }, [lang]);
  const toggle = () => setLang(lang === 'vi' ? 'en' : 'vi');
  // The next person to sign in on this tab starts at their own unit.
  const signOut = () => {
    history.replaceState(null, '', location.pathname);
    logout();
  };
  return (
    <>
      <header class="top">
        <h1>{t.short}</h1>
        <div class="top-actions">
          <button type="button" id="lang-toggle" lang={lang === 'vi' ? 'en' : 'vi'} onClick={toggle}>{t.language}</button>
          {session && <button type="button" id="sign-out" onClick={signOut}>{t.signOut}</button>}
        </div>
      </header>
      {session ? <Home t={t} lang={lang} /> : <SignIn t={t} />}
    </>
  );
}

function SignIn({ t }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      const payload = await login(String(form.get('username')).trim(), String(form.get('password')));
      if (payload.mustChangePassword) {
        await logout();
        setError('mustChange');
      }
    } catch (err) {
      setError(err.code === 'RATE_LIMITED' ? 'rateLimited' : 'badLogin');
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="signin">
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <h2>{t.signIn}</h2>
        <label for="username">{t.username}</label>
        <input id="username" name="username" autocomplete="username" required autofocus />
        <label for="password">{t.password}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        {error && <p id="signin-error" class="error" role="alert">{t[error]}</p>}
        <button type="submit" disabled={busy}>{busy ? t.signingIn : t.signIn}</button>
      </form>
    </main>
  );
}

function Home({ t, lang }) {
  const me = useQuery('Me', {}, 'me');
  const [unitId, setUnitId] = useState(routeUnit());
  const [period, setPeriod] = useState('YEAR');
  useEffect(() => {
    const onHash = () => setUnitId(routeUnit());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  if (me.error) return <Failure t={t} error={me.error} retry={me.reload} />;
  if (!me.data) return <main aria-busy="true"><p>{t.loading}</p></main>;
  const user = me.data.me;
  if (!user.scopeUnit || !['CITY_ADMIN', 'DISTRICT_OFFICER', 'WARD_LEADER', 'VIEWER'].includes(user.role)) {
    return <main><p class="notice">{t.noUnit}</p></main>;
  }
  const unit = unitId || user.scopeUnit.id;
  return (
    <main>
      <p class="who">
        <span id="who-user">{user.username}</span> · {t.roles[user.role] || user.role} · {user.scopeUnit.name}
      </p>
      <UnitView key={unit} t={t} lang={lang} unitId={unit} user={user} period={period} setPeriod={setPeriod} />
    </main>
  );
}

function Failure({ t, error, retry }) {
  return (
    <div class="error" role="alert">
      <p>{t.error}: {error.message}</p>
      <button type="button" onClick={retry}>{t.retry}</button>
    </div>
  );
}

function UnitView({ t, lang, unitId, user, period, setPeriod }) {
  const acting = ACTING_ROLES.includes(user.role);
  const periodVars = periodInput(period);
  const unit = useQuery('Unit', { unit: unitId, period: periodVars }, `${unitId}|${period}`);
  const day = today();
  const trends = useQuery(
    'Trends',
    {
      unit: unitId,
      weeks: { from: addDays(monday(day), -7 * 11), to: day },
      months: { from: addMonths(day, -11), to: day },
    },
    unitId,
  );
  const data = unit.data;
  const u = data && data.adminUnit;
  // A unit outside the account's scope (a hand-edited address) reads like one that does not
  // exist: say so, and offer the way back.
  const outside = unit.error ? ['FORBIDDEN', 'NOT_FOUND'].includes(unit.error.code) : Boolean(data && !u);
  if (outside) {
    return (
      <p class="notice" role="alert" id="not-in-scope">
        {t.notFound} <a href={`#/unit/${encodeURIComponent(user.scopeUnit.id)}`}>{user.scopeUnit.name}</a>
      </p>
    );
  }
  if (unit.error) return <Failure t={t} error={unit.error} retry={unit.reload} />;
  return (
    <div aria-busy={unit.loading ? 'true' : 'false'}>
      <div class="unit-head">
        {u ? <Breadcrumb t={t} unit={u} scopeId={user.scopeUnit.id} /> : <p>{t.loading}</p>}
        <label class="period">
          {t.period}
          <select id="period" value={period} onChange={(e) => setPeriod(e.currentTarget.value)}>
            {PERIODS.map((p) => <option value={p}>{t.periods[p]}</option>)}
          </select>
        </label>
      </div>
      {u && (
        <>
          <h2 id="unit-name">{u.name} <small>{t.kinds[u.kind] || ''}</small></h2>
          <Indicators t={t} lang={lang} stats={u.stats} />
          <ChildTable t={t} lang={lang} unit={u} rows={data.statsBreakdown.rows} period={period} />
        </>
      )}
      <Trends t={t} lang={lang} q={trends} />
      {acting && <Tasks t={t} lang={lang} unitId={unitId} />}
      {acting && <QuietGroups t={t} lang={lang} unitId={unitId} />}
    </div>
  );
}

function Breadcrumb({ t, unit, scopeId }) {
  const path = [...unit.ancestors, { id: unit.id, name: unit.name }];
  const from = path.findIndex((a) => a.id === scopeId);
  const shown = from >= 0 ? path.slice(from) : [path[path.length - 1]];
  return (
    <nav aria-label={t.breadcrumb} class="crumbs">
      <ol>
        {shown.map((a, i) => (
          <li>{i === shown.length - 1 ? <span aria-current="page">{a.name}</span> : <a href={`#/unit/${encodeURIComponent(a.id)}`}>{a.name}</a>}</li>
        ))}
      </ol>
    </nav>
  );
}

/** How far through a target's period today is, 0–1. */
function elapsed(target) {
  const day = Date.parse(today());
  const start = Date.parse(target.periodStart);
  const end = Date.parse(target.periodEnd) + 86_400_000;
  return Math.min(1, Math.max(0, (day + 86_400_000 - start) / (end - start)));
}

function Indicators({ t, lang, stats }) {
  return (
    <section aria-labelledby="indicators-title">
      <h3 id="indicators-title">{t.indicators}</h3>
      <ul class="cards">
        {INDICATORS.map((ind) => {
          const targets = stats.targets.filter((tg) => tg.indicator === ind.target);
          return (
            <li class="card" data-indicator={ind.key}>
              <span class="card-label">{ind[lang]}</span>
              <span class="card-value" data-value={stats[ind.key] ?? ''}>{formatValue(ind, stats[ind.key], lang)}</span>
              {targets.length ? targets.map((tg) => <TargetBar t={t} lang={lang} ind={ind} tg={tg} />) : <span class="muted">{t.noTarget}</span>}
            </li>
          );
        })}
        {stats.targets.filter((tg) => !byTarget(tg.indicator)).map((tg) => (
          <li class="card" data-indicator={tg.indicator}>
            <span class="card-label">{tg.indicator}</span>
            <TargetBar t={t} lang={lang} ind={{ rate: tg.indicator.endsWith('_RATE') }} tg={tg} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function TargetBar({ t, lang, ind, tg }) {
  const progress = tg.progress ?? 0;
  const state = progress >= 1 ? 'reached' : progress >= elapsed(tg) ? 'onTrack' : 'behind';
  const pct = Math.round(Math.min(1, progress) * 100);
  return (
    <div class={`target ${state}`}>
      <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={pct}
        aria-label={`${t.target} ${formatValue(ind, tg.target, lang)}`}>
        <div class="fill" style={{ width: `${pct}%` }} />
      </div>
      <span class="target-text">
        {formatValue(ind, tg.actual, lang)} / {formatValue(ind, tg.target, lang)} · <strong>{t[state]}</strong>
        <br />
        <span class="muted">{formatDate(tg.periodStart)}–{formatDate(tg.periodEnd)}</span>
      </span>
    </div>
  );
}

function csvCell(value) {
  const text = String(value ?? '');
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function fileSlug(name) {
  return name.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[đĐ]/g, 'd').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase();
}

function ChildTable({ t, lang, unit, rows, period }) {
  const [sort, setSort] = useState({ key: 'name', dir: 1 });
  const named = useMemo(
    () => rows.map((r) => ({ id: r.unit ? r.unit.id : '', name: r.unit ? r.unit.name : '', direct: !r.unit || r.unit.id === unit.id, stats: r.stats })),
    [rows, unit.id],
  );
  const sorted = useMemo(() => {
    const list = [...named];
    list.sort((a, b) => {
      if (a.direct !== b.direct) return a.direct ? 1 : -1;
      if (sort.key === 'name') return sort.dir * collator.compare(a.name, b.name);
      const x = a.stats[sort.key] ?? -1;
      const y = b.stats[sort.key] ?? -1;
      return sort.dir * (x - y) || collator.compare(a.name, b.name);
    });
    return list;
  }, [named, sort]);
  const label = (r) => (r.direct ? `${r.name} ${t.direct}` : r.name);
  function sortBy(key) {
    setSort((s) => (s.key === key ? { key, dir: -s.dir } : { key, dir: key === 'name' ? 1 : -1 }));
  }
  function exportCsv() {
    const head = [t.unit, ...TABLE_INDICATORS.map((i) => (i.rate ? `${i[lang]} (%)` : i[lang]))];
    const lines = [head, ...sorted.map((r) => [label(r), ...TABLE_INDICATORS.map((i) => {
      const v = r.stats[i.key];
      if (v === null || v === undefined) return '';
      return i.rate ? (v * 100).toFixed(1) : v;
    })])];
    const text = `\ufeff${lines.map((l) => l.map(csvCell).join(',')).join('\r\n')}\r\n`;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    link.download = `cdtg-${fileSlug(unit.name)}-${period.toLowerCase()}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }
  const ariaSort = (key) => (sort.key === key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  return (
    <section aria-labelledby="children-title">
      <div class="section-head">
        <h3 id="children-title">{t.children}</h3>
        <button type="button" id="export-csv" onClick={exportCsv} disabled={!sorted.length}>{t.exportCsv}</button>
      </div>
      {sorted.length ? (
        <table id="children" class="children">
          <thead>
            <tr>
              <th scope="col" aria-sort={ariaSort('name')}>
                <button type="button" data-sort="name" onClick={() => sortBy('name')}>{t.unit}</button>
              </th>
              {TABLE_INDICATORS.map((i) => (
                <th scope="col" class="num" aria-sort={ariaSort(i.key)}>
                  <button type="button" data-sort={i.key} onClick={() => sortBy(i.key)}>{i[lang]}</button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {sorted.map((r) => (
              <tr data-unit={r.id} data-direct={r.direct ? 'true' : undefined}>
                <th scope="row">{r.direct ? label(r) : <a href={`#/unit/${encodeURIComponent(r.id)}`}>{r.name}</a>}</th>
                {TABLE_INDICATORS.map((i) => (
                  <td class="num" data-key={i.key} data-label={i[lang]}>{formatValue(i, r.stats[i.key], lang)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">{t.noChildren}</p>
      )}
    </section>
  );
}

function series(rows, keyField, keys) {
  const byKey = new Map(rows.filter((r) => r[keyField]).map((r) => [r[keyField], r.stats]));
  return keys.map((k) => ({ key: k, stats: byKey.get(k) || {} }));
}

function Trends({ t, lang, q }) {
  const [which, setWhich] = useState(TREND_INDICATORS[0].key);
  const ind = TREND_INDICATORS.find((i) => i.key === which);
  const day = today();
  const weeks = Array.from({ length: 12 }, (_, i) => addDays(monday(day), -7 * (11 - i)));
  const months = Array.from({ length: 12 }, (_, i) => addMonths(day, i - 11));
  return (
    <section aria-labelledby="trends-title" aria-busy={q.loading ? 'true' : 'false'}>
      <div class="section-head">
        <h3 id="trends-title">{t.trends}</h3>
        <label>
          {t.trendOf}{' '}
          <select id="trend-indicator" value={which} onChange={(e) => setWhich(e.currentTarget.value)}>
            {TREND_INDICATORS.map((i) => <option value={i.key}>{i[lang]}</option>)}
          </select>
        </label>
      </div>
      {q.error && <Failure t={t} error={q.error} retry={q.reload} />}
      {q.data && (
        <div class="charts">
          <Bars id="trend-week" title={t.byWeek} lang={lang} ind={ind}
            points={series(q.data.weekly.rows, 'week', weeks).map((p) => ({ label: formatDate(p.key).slice(0, 5), full: `${t.weekOf} ${formatDate(p.key)}`, value: p.stats[ind.key] || 0 }))} />
          <Bars id="trend-month" title={t.byMonth} lang={lang} ind={ind}
            points={series(q.data.monthly.rows, 'month', months).map((p) => ({ label: formatDate(p.key).slice(3), full: formatDate(p.key).slice(3), value: p.stats[ind.key] || 0 }))} />
        </div>
      )}
    </section>
  );
}

/** A bar chart in plain SVG, with the figures as a table for screen readers. */
function Bars({ id, title, lang, ind, points }) {
  const max = Math.max(1, ...points.map((p) => p.value));
  const w = 360;
  const h = 150;
  const top = 18;
  const bw = w / points.length;
  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${w} ${top + h + 24}`} role="img" aria-label={`${title}: ${ind[lang]}`} preserveAspectRatio="xMidYMid meet">
        <line x1="0" x2={w} y1={top} y2={top} class="grid" />
        <text x="2" y="12" class="axis">{formatNumber(max, lang)}</text>
        {points.map((p, i) => {
          const bh = (p.value / max) * h;
          return (
            <g>
              <rect x={i * bw + 3} y={top + h - bh} width={bw - 6} height={bh} class="bar-rect"><title>{`${p.full}: ${formatNumber(p.value, lang)}`}</title></rect>
              {i % 2 === 0 && <text x={i * bw + bw / 2} y={top + h + 18} text-anchor="middle" class="axis">{p.label}</text>}
            </g>
          );
        })}
      </svg>
      <table class="sr-only">
        <tbody>
          {points.map((p) => <tr><th scope="row">{p.full}</th><td data-value={p.value}>{formatNumber(p.value, lang)}</td></tr>)}
        </tbody>
      </table>
    </figure>
  );
}

function TaskList({ t, lang, id, title, conn }) {
  return (
    <div class="tasklist" id={id}>
      <h4>{title} <span class="count" data-value={conn.totalCount}>({t.shownOf(formatNumber(conn.nodes.length, lang), formatNumber(conn.totalCount, lang))})</span></h4>
      {conn.nodes.length ? (
        <ul>
          {conn.nodes.map((task) => (
            <li>
              <span class="task-title">{task.title}</span>
              <span class="muted">{task.group ? task.group.name : ''} · {t.due} {task.dueOn ? formatDate(task.dueOn) : '—'} · {t.statuses[task.status] || task.status}</span>
            </li>
          ))}
        </ul>
      ) : <p class="muted">{t.none}</p>}
    </div>
  );
}

function Tasks({ t, lang, unitId }) {
  const q = useQuery('Tasks', { unit: unitId }, unitId);
  return (
    <section aria-labelledby="tasks-title" aria-busy={q.loading ? 'true' : 'false'}>
      <h3 id="tasks-title">{t.tasks}</h3>
      {q.error && <Failure t={t} error={q.error} retry={q.reload} />}
      {q.data && (
        <div class="two">
          <TaskList t={t} lang={lang} id="tasks-overdue" title={t.overdue} conn={q.data.overdue} />
          <TaskList t={t} lang={lang} id="tasks-submitted" title={t.submitted} conn={q.data.submitted} />
        </div>
      )}
    </section>
  );
}

function QuietGroups({ t, lang, unitId }) {
  const since = addDays(today(), -29);
  const [pages, setPages] = useState([]);
  const [after, setAfter] = useState(null);
  const q = useQuery('QuietGroups', { unit: unitId, since, after }, `${unitId}|${after}`);
  useEffect(() => {
    if (q.data) setPages((p) => [...p, q.data.groups]);
  }, [q.data]);
  const quiet = pages.flatMap((p) => p.nodes);
  const last = pages[pages.length - 1];
  const total = last ? last.totalCount : 0;
  return (
    <section aria-labelledby="quiet-title" aria-busy={q.loading ? 'true' : 'false'} id="quiet">
      <h3 id="quiet-title">{t.quiet} <span class="count" data-value={total}>({formatNumber(total, lang)})</span></h3>
      {q.error && <Failure t={t} error={q.error} retry={q.reload} />}
      {last && last.pageInfo.hasNextPage && <p class="muted">{t.quietShown(quiet.length, total)}</p>}
      {last && (quiet.length ? (
        <ul class="quiet">
          {quiet.map((g) => <li>{g.name}{g.unit ? <span class="muted"> · {g.unit.name}</span> : null}</li>)}
        </ul>
      ) : <p class="muted">{t.allActive}</p>)}
      {last && last.pageInfo.hasNextPage && (
        <button type="button" disabled={q.loading} onClick={() => setAfter(last.pageInfo.endCursor)}>{t.checkMore}</button>
      )}
    </section>
  );
}

render(<App />, document.getElementById('app'));
