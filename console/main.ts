/**
 * The Junction console: Overview, Rules (with a live pattern editor), recent Events, an event's Journey, Dead letters,
 * Pending deliveries (retry now), Replays, Functions. Preact + htm, bundled by the bus with esbuild
 * (lib/server/console.ts). Pages are addressed by the URL hash (`#/rules`).
 */
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  apiKey,
  beginSignIn,
  call,
  completeSignIn,
  currentBus,
  parseMetrics,
  perTarget,
  quantile,
  type SignIn,
  setApiKey,
  setBus,
  signInConfig,
  tail,
  total,
  whenUnauthorized,
} from './api.ts';

type Json = Record<string, unknown>;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/overview');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/overview');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function message(error: unknown): string {
  return error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
}

/** A time the API gives (epoch ms or RFC 3339) as a readable UTC time. */
function when(at: unknown): string {
  const t = typeof at === 'number' || /^\d+$/.test(String(at)) ? Number(at) : Date.parse(String(at));
  return Number.isFinite(t) ? new Date(t).toISOString().replace('T', ' ').replace('Z', ' UTC') : String(at);
}

function ErrorLine({ error }: { error: string | undefined }) {
  return error === undefined ? null : html`<p class="error" role="alert">${error}</p>`;
}

// ---- Sign in -------------------------------------------------------------------------------------------------

function KeyPrompt({ reason, done }: { reason: string; done: () => void }) {
  const [key, setKey] = useState('');
  const [config, setConfig] = useState<SignIn | undefined>();
  useEffect(() => {
    signInConfig().then(setConfig);
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    setApiKey(key.trim());
    done();
  };
  return html`<form class="card key-prompt" onSubmit=${submit}>
    <h2>Sign in</h2>
    <p>${reason}</p>
    ${
      config === undefined
        ? null
        : html`<p><button type="button" name="signin" onClick=${() => beginSignIn(config)}>Sign in with your identity provider</button></p>
          <p class="muted">Or paste a token:</p>`
    }
    <p class="muted">An API key or a token (JWT) stays in this tab (sessionStorage) and is sent as <code>Authorization: Bearer</code>.</p>
    <input name="apikey" type="password" autocomplete="off" placeholder="jk_… or eyJ…" value=${key}
      onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} />
    <button type="submit">Use this key or token</button>
  </form>`;
}

// ---- Overview ------------------------------------------------------------------------------------------------

interface TargetRow {
  readonly rule: string;
  readonly target: string;
  readonly delivered: number;
  readonly failed: number;
  /** Failed attempts over all attempts in the interval, or undefined when there were none. */
  readonly errorRatio: number | undefined;
  readonly pending: number;
  readonly oldestPendingSeconds: number;
  readonly p50: number | undefined;
  readonly p99: number | undefined;
}

interface Rates {
  readonly at: number;
  readonly values: Record<string, number>;
  readonly pending: number;
  readonly targets: TargetRow[];
}

/** Per (rule, target) rates, error ratio, backlog and attempt latency between two samples of /metrics. */
function targetRows(
  sample: Map<string, number>,
  before: { at: number; sample: Map<string, number> } | undefined,
  seconds: number,
): TargetRow[] {
  const delta = (name: string, where: Record<string, string> = {}) => {
    const now = perTarget(sample, name, where);
    const then = before === undefined ? undefined : perTarget(before.sample, name, where);
    return { now, diff: (key: string) => Math.max(0, (now.get(key) ?? 0) - (then?.get(key) ?? 0)) };
  };
  const delivered = delta('junction_deliveries_total', { outcome: 'delivered' });
  const failed = delta('junction_deliveries_total', { outcome: 'failed' });
  const pending = perTarget(sample, 'junction_target_pending');
  const oldest = perTarget(sample, 'junction_target_oldest_pending_age_seconds');
  const keys = new Set([...delivered.now.keys(), ...failed.now.keys(), ...pending.keys()]);
  return [...keys].sort().map((key) => {
    const [rule, target] = JSON.parse(key) as [string, string];
    const ok = delivered.diff(key);
    const bad = failed.diff(key);
    const latency = (q: number) => {
      const v = quantile(sample, before?.sample, 'junction_delivery_latency_seconds', key, q);
      return v === undefined ? undefined : v * 1000;
    };
    return {
      rule,
      target,
      delivered: before === undefined ? 0 : ok / seconds,
      failed: before === undefined ? 0 : bad / seconds,
      errorRatio: before === undefined || ok + bad === 0 ? undefined : bad / (ok + bad),
      pending: pending.get(key) ?? 0,
      oldestPendingSeconds: oldest.get(key) ?? 0,
      p50: latency(0.5),
      p99: latency(0.99),
    };
  });
}

const ms = (v: number | undefined) => (v === undefined ? '—' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

const SERIES: ReadonlyArray<readonly [string, string, string?]> = [
  ['in', 'junction_events_in_total'],
  ['matched', 'junction_events_matched_total'],
  ['delivered', 'junction_deliveries_total', 'outcome="delivered"'],
  ['failed attempts', 'junction_deliveries_total', 'outcome="failed"'],
  ['dead-lettered', 'junction_dead_letters_total'],
];

function Overview() {
  const [rates, setRates] = useState<Rates | undefined>();
  const [error, setError] = useState<string | undefined>();
  const last = useRef<{ at: number; sample: Map<string, number> } | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    const poll = async () => {
      try {
        const sample = parseMetrics(await call<string>('GET', '/metrics'));
        const at = performance.now();
        const before = last.current;
        last.current = { at, sample };
        const values: Record<string, number> = {};
        for (const [label, name, having] of SERIES) {
          const now = total(sample, name, having);
          values[label] =
            before === undefined
              ? 0
              : Math.max(0, now - total(before.sample, name, having)) / ((at - before.at) / 1000);
        }
        if (!stopped) {
          const seconds = before === undefined ? 1 : (at - before.at) / 1000;
          setRates({
            at,
            values,
            pending: total(sample, 'junction_target_pending'),
            targets: targetRows(sample, before, seconds),
          });
          setError(undefined);
        }
      } catch (e) {
        if (!stopped) setError(message(e));
      }
    };
    void poll();
    const timer = setInterval(poll, 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  return html`<section>
    <h2>Overview</h2>
    <p class="muted">Per second, from <code>GET /metrics</code> every 2 s.</p>
    <${ErrorLine} error=${error} />
    <div class="tiles">
      ${SERIES.map(
        ([label]) => html`<div class="tile" data-series=${label}>
          <div class="value">${(rates?.values[label] ?? 0).toFixed(1)}</div>
          <div class="label">${label} /s</div>
        </div>`,
      )}
      <div class="tile" data-series="pending">
        <div class="value">${rates?.pending ?? 0}</div>
        <div class="label">pending (retrying) now</div>
      </div>
    </div>
    <h3>Per rule and target</h3>
    <p class="muted">Rates, the share of failed attempts and the attempts' p50/p99 latency over the last 2 s; the
      backlog now.</p>
    <table class="targets">
      <thead><tr><th>Rule / target</th><th>Delivered /s</th><th>Failed /s</th><th>Error ratio</th><th>p50</th>
        <th>p99</th><th>Pending</th><th>Oldest pending</th></tr></thead>
      <tbody>
        ${(rates?.targets ?? []).map(
          (t) => html`<tr data-lane=${`${t.rule}/${t.target}`}>
            <td>${t.rule} / ${t.target}</td><td data-col="delivered">${t.delivered.toFixed(1)}</td><td>${t.failed.toFixed(1)}</td>
            <td data-col="error-ratio">${t.errorRatio === undefined ? '—' : `${(t.errorRatio * 100).toFixed(0)} %`}</td>
            <td data-col="p50">${ms(t.p50)}</td><td data-col="p99">${ms(t.p99)}</td><td data-col="pending">${t.pending}</td>
            <td>${t.oldestPendingSeconds.toFixed(0)} s</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

// ---- Rules ---------------------------------------------------------------------------------------------------

interface Rule {
  readonly name: string;
  readonly enabled: boolean;
  readonly description?: string;
  readonly pattern?: unknown;
  readonly filter?: string;
  readonly targets: ReadonlyArray<Json & { id: string; type: string }>;
}

function Rules() {
  const [rules, setRules] = useState<Rule[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [editing, setEditing] = useState<Rule | 'new' | undefined>();
  const load = async () => {
    try {
      setRules((await call<{ rules: Rule[] }>('GET', '/rules')).rules);
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const toggle = async (rule: Rule) => {
    try {
      await call('POST', `/rules/${encodeURIComponent(rule.name)}/${rule.enabled ? 'disable' : 'enable'}`);
      await load();
    } catch (e) {
      setError(message(e));
    }
  };
  if (editing !== undefined) {
    return html`<${RuleEditor} rule=${editing === 'new' ? undefined : editing}
      done=${() => {
        setEditing(undefined);
        void load();
      }} />`;
  }
  return html`<section>
    <h2>Rules <button class="small" onClick=${() => setEditing('new')}>New rule</button></h2>
    <${ErrorLine} error=${error} />
    <table class="rules">
      <thead><tr><th>Name</th><th>Enabled</th><th>Pattern</th><th>Targets</th><th></th></tr></thead>
      <tbody>
        ${(rules ?? []).map(
          (rule) => html`<tr data-rule=${rule.name}>
            <td><a href="#/rules" onClick=${(e: Event) => {
              e.preventDefault();
              setEditing(rule);
            }}>${rule.name}</a></td>
            <td>${rule.enabled ? 'yes' : 'no'}</td>
            <td><code>${JSON.stringify(rule.pattern ?? {})}</code></td>
            <td>${rule.targets.map((t) => `${t.id} (${t.type})`).join(', ')}</td>
            <td><button class="small" onClick=${() => toggle(rule)}>${rule.enabled ? 'Disable' : 'Enable'}</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${rules?.length === 0 ? html`<p class="muted">No rules yet.</p>` : null}
  </section>`;
}

function parseJson(text: string, what: string): { value?: unknown; error?: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `${what} is not valid JSON: ${(e as Error).message}` };
  }
}

const SAMPLE_EVENT = {
  specversion: '1.0',
  id: 'sample-1',
  source: '/shop',
  type: 'com.shop.order.created',
  data: { total: 250 },
};

interface Verdict {
  readonly matches: boolean;
  readonly explanation?: ReadonlyArray<{ path: string; condition: string; actual?: unknown; reason: string }>;
}

type TargetPreview =
  | { readonly ok: true; readonly body?: string; readonly contentType?: string }
  | { readonly ok: false; readonly error: { readonly message: string } };

function RuleEditor({ rule, done }: { rule: Rule | undefined; done: () => void }) {
  const [name, setName] = useState(rule?.name ?? '');
  const [pattern, setPattern] = useState(JSON.stringify(rule?.pattern ?? { source: ['/shop'] }, null, 2));
  const [targets, setTargets] = useState(JSON.stringify(rule?.targets ?? [], null, 2));
  const [enabled, setEnabled] = useState(rule?.enabled ?? true);
  const [sample, setSample] = useState(JSON.stringify(SAMPLE_EVENT, null, 2));
  const [recent, setRecent] = useState<Json[]>([]);
  const [verdicts, setVerdicts] = useState<Array<Verdict | string>>([]);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    // Recent real events: the newest the log retains.
    call<{ events: Array<{ event: Json }> }>('GET', '/events?limit=10')
      .then((page) => setRecent(page.events.map((found) => found.event)))
      .catch(() => setRecent([]));
  }, []);
  useEffect(() => {
    // Answers to an older text arrive after the timer of a newer one is cleared: they are dropped.
    let current = true;
    const timer = setTimeout(async () => {
      const p = parseJson(pattern, 'the pattern');
      const s = parseJson(sample, 'the sample event');
      if (p.error !== undefined || s.error !== undefined) {
        setVerdicts([p.error ?? s.error ?? '']);
        return;
      }
      const events = [s.value, ...recent];
      const answers = await Promise.all(
        events.map((event) =>
          call<Verdict>('POST', '/patterns/test', { pattern: p.value, event }).catch((e: unknown) =>
            message(e),
          ),
        ),
      );
      if (current) setVerdicts(answers);
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [pattern, sample, recent]);
  const [previews, setPreviews] = useState<Array<{ id: string; answer: TargetPreview | string }>>([]);
  useEffect(() => {
    // What each target would receive for the test event (POST /targets/test), as you type.
    let current = true;
    const timer = setTimeout(async () => {
      const t = parseJson(targets, 'the targets');
      const s = parseJson(sample, 'the sample event');
      if (t.error !== undefined || s.error !== undefined || !Array.isArray(t.value)) {
        setPreviews([]);
        return;
      }
      const answers = await Promise.all(
        (t.value as Json[]).slice(0, 10).map(async (target) => ({
          id: String(target.id ?? '?'),
          answer: await call<TargetPreview>('POST', '/targets/test', {
            event: s.value,
            target,
            ...(name === '' ? {} : { rule: name }),
          }).catch((e: unknown) => message(e)),
        })),
      );
      if (current) setPreviews(answers);
    }, 250);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [targets, sample, name]);
  const save = async (e: Event) => {
    e.preventDefault();
    const p = parseJson(pattern, 'the pattern');
    const t = parseJson(targets, 'the targets');
    if (p.error !== undefined || t.error !== undefined) return setError(p.error ?? t.error);
    try {
      await call('PUT', `/rules/${encodeURIComponent(name)}`, {
        pattern: p.value,
        targets: t.value,
        enabled,
      });
      done();
    } catch (err) {
      setError(message(err));
    }
  };
  const events = [parseJson(sample, 'sample').value, ...recent];
  return html`<form class="card" onSubmit=${save}>
    <h2>${rule === undefined ? 'New rule' : `Rule ${rule.name}`}</h2>
    <label>Name <input name="name" value=${name} disabled=${rule !== undefined}
      onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
    <label><input type="checkbox" name="enabled" checked=${enabled}
      onChange=${(e: Event) => setEnabled((e.target as HTMLInputElement).checked)} /> enabled</label>
    <div class="columns">
      <div>
        <label>Pattern (EventBridge JSON)
          <textarea name="pattern" rows="10" spellcheck="false" value=${pattern}
            onInput=${(e: Event) => setPattern((e.target as HTMLTextAreaElement).value)}></textarea></label>
        <label>Targets (JSON array)
          <textarea name="targets" rows="8" spellcheck="false" value=${targets}
            onInput=${(e: Event) => setTargets((e.target as HTMLTextAreaElement).value)}></textarea></label>
      </div>
      <div>
        <label>Test event
          <textarea name="sample" rows="10" spellcheck="false" value=${sample}
            onInput=${(e: Event) => setSample((e.target as HTMLTextAreaElement).value)}></textarea></label>
        <h3>Pattern test <span class="muted">(POST /patterns/test, as you type)</span></h3>
        <ul class="verdicts">
          ${verdicts.map((v, i) => {
            const event = events[i] as Json | undefined;
            const label = i === 0 ? 'test event' : `recent ${String(event?.source)} ${String(event?.id)}`;
            if (typeof v === 'string') return html`<li class="error">${label}: ${v}</li>`;
            return html`<li class=${v.matches ? 'match' : 'nomatch'} data-verdict=${v.matches ? 'match' : 'no-match'}>
              <strong>${v.matches ? 'matches' : 'does not match'}</strong> ${label}
              ${(v.explanation ?? []).map(
                (x) => html`<div class="explain"><code>${x.path}</code> ${x.condition}: ${x.reason}
                  (actual <code>${JSON.stringify(x.actual)}</code>)</div>`,
              )}
            </li>`;
          })}
        </ul>
        <h3>Target input <span class="muted">(POST /targets/test: what each target receives for the test event)</span></h3>
        <ul class="previews">
          ${previews.map(({ id, answer }) =>
            typeof answer === 'string'
              ? html`<li class="error" data-preview=${id}><strong>${id}</strong>: ${answer}</li>`
              : answer.ok
                ? html`<li data-preview=${id}><strong>${id}</strong> <span class="muted">${answer.contentType ?? ''}</span>
                    <pre>${answer.body ?? '(no body)'}</pre></li>`
                : html`<li class="error" data-preview=${id}><strong>${id}</strong>: ${answer.error.message}</li>`,
          )}
        </ul>
      </div>
    </div>
    <${ErrorLine} error=${error} />
    <button type="submit">Save rule</button>
    <button type="button" class="secondary" onClick=${done}>Cancel</button>
  </form>`;
}

// ---- Events --------------------------------------------------------------------------------------------------

interface FoundEvent {
  readonly event: Json & { id: string; source: string; type: string };
  readonly partition: number;
  readonly offset: number;
  readonly acceptedAt: string;
}

/** The cells of one found event (search and live tail): accepted, source, id (to its journey), type, position. */
function eventCells(f: FoundEvent) {
  return html`<td>${when(f.acceptedAt)}</td><td><code>${f.event.source}</code></td>
    <td><a href=${`#/journey/${encodeURIComponent(f.event.id)}`}><code>${f.event.id}</code></a></td>
    <td>${f.event.type}</td><td>${f.partition}/${f.offset}</td>`;
}

function Events() {
  const [source, setSource] = useState('');
  const [type, setType] = useState('');
  const [id, setId] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [found, setFound] = useState<{ events: FoundEvent[]; truncated?: boolean } | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = async () => {
    try {
      const q = new URLSearchParams({ limit: '50' });
      if (source !== '') q.set('source', source);
      if (type !== '') q.set('type', type);
      if (id !== '') q.set('id', id);
      // datetime-local fields hold the browser's local time: sent as an instant.
      if (from !== '') q.set('from', new Date(from).toISOString());
      if (to !== '') q.set('to', new Date(to).toISOString());
      setFound(await call<{ events: FoundEvent[]; truncated?: boolean }>('GET', `/events?${q}`));
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const input = (name: string, value: string, set: (v: string) => void) =>
    html`<input name=${name} placeholder=${name} value=${value}
      onInput=${(e: Event) => set((e.target as HTMLInputElement).value)} />`;
  return html`<section>
    <h2>Recent events</h2>
    <form class="inline" onSubmit=${(e: Event) => {
      e.preventDefault();
      void load();
    }}>
      ${input('source', source, setSource)} ${input('type', type, setType)} ${input('id', id, setId)}
      <label>from <input type="datetime-local" step="1" name="from" value=${from}
        onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} /></label>
      <label>to <input type="datetime-local" step="1" name="to" value=${to}
        onInput=${(e: Event) => setTo((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">Search</button>
    </form>
    <${ErrorLine} error=${error} />
    <table class="events">
      <thead><tr><th>Accepted</th><th>Source</th><th>Id</th><th>Type</th><th>Position</th><th></th></tr></thead>
      <tbody>
        ${(found?.events ?? []).map((f) => {
          const key = `${f.partition}:${f.offset}`;
          return html`<tr data-event=${f.event.id}>
              ${eventCells(f)}
              <td><button type="button" class="small secondary" onClick=${() => setOpen(open === key ? undefined : key)}>JSON</button></td>
            </tr>
            ${open === key ? html`<tr class="detail"><td colspan="6"><pre>${JSON.stringify(f.event, null, 2)}</pre></td></tr>` : null}`;
        })}
      </tbody>
    </table>
    ${found?.events.length === 0 ? html`<p class="muted">No matching events retained.</p>` : null}
    ${found?.truncated ? html`<p class="muted">The search stopped at its bound: older matches may exist.</p>` : null}
  </section>`;
}

/** The most events the live tail keeps on screen (newest first). */
const TAIL_ROWS = 200;

/** A live tail of the bus (`GET /events/tail`) filtered by a pattern, newest first. */
function LiveTail() {
  const [pattern, setPattern] = useState('');
  const [live, setLive] = useState<AbortController | undefined>();
  const [rows, setRows] = useState<FoundEvent[]>([]);
  const [skipped, setSkipped] = useState(0);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => () => live?.abort(), [live]);
  const start = () => {
    const abort = new AbortController();
    const q = new URLSearchParams();
    if (pattern.trim() !== '') q.set('pattern', pattern);
    setRows([]);
    setSkipped(0);
    setError(undefined);
    setLive(abort);
    tail(
      q,
      (event, data) => {
        if (event === 'cloudevent') setRows((old) => [data as FoundEvent, ...old].slice(0, TAIL_ROWS));
        else if (event === 'skipped') setSkipped((n) => n + (data as { skipped: number }).skipped);
        else if (event === 'error') setError((data as { error?: { message?: string } }).error?.message);
      },
      abort.signal,
    ).catch((e: unknown) => {
      setError(message(e));
      setLive(undefined);
    });
  };
  const stop = () => {
    live?.abort();
    setLive(undefined);
  };
  return html`<section class="tail">
    <h2>Live tail</h2>
    <form class="inline" onSubmit=${(e: Event) => {
      e.preventDefault();
      if (live === undefined) start();
      else stop();
    }}>
      <input name="tail-pattern" class="wide" placeholder='pattern, e.g. {"type": ["order.created"]} (empty: every event)'
        value=${pattern} disabled=${live !== undefined}
        onInput=${(e: Event) => setPattern((e.target as HTMLInputElement).value)} />
      <button type="submit">${live === undefined ? 'Start live tail' : 'Stop'}</button>
      ${live === undefined ? null : html`<span class="muted" role="status">live</span>`}
    </form>
    <${ErrorLine} error=${error} />
    ${skipped > 0 ? html`<p class="muted">${skipped} events went by too fast to show (the tail skipped ahead).</p>` : null}
    ${
      rows.length === 0
        ? live === undefined
          ? null
          : html`<p class="muted">Waiting for matching events…</p>`
        : html`<table class="events">
      <thead><tr><th>Accepted</th><th>Source</th><th>Id</th><th>Type</th><th>Position</th></tr></thead>
      <tbody>
        ${rows.map(
          (f) =>
            html`<tr data-tail-event=${f.event.id} key=${`${f.partition}:${f.offset}`}>${eventCells(f)}</tr>`,
        )}
      </tbody>
    </table>`
    }
  </section>`;
}

// ---- Journey -------------------------------------------------------------------------------------------------

interface TraceEntry {
  readonly at: string | number;
  readonly kind: string;
  readonly rule?: string;
  readonly target?: string;
  readonly detail?: Json;
}

interface Trace {
  readonly source: string;
  readonly id: string;
  readonly entries: TraceEntry[];
  readonly emitted?: Trace[];
  readonly truncated?: boolean;
}

function describe(entry: TraceEntry): string {
  const d = entry.detail ?? {};
  switch (entry.kind) {
    case 'received':
      return `partition ${String(d.partition)}, offset ${String(d.offset)}`;
    case 'matched':
      return `rule ${entry.rule} → ${((d.targets as string[] | undefined) ?? []).join(', ')}`;
    case 'attempt':
      return `${entry.rule}/${entry.target} attempt ${String(d.number)}: ${String(d.outcome)} in ${String(d.latencyMs)} ms${d.error ? ` — ${String(d.error)}` : ''}`;
    case 'dead-lettered':
      return `${entry.rule}/${entry.target}: ${String(d.reason ?? '')}`;
    default:
      return (
        [entry.rule, entry.target].filter(Boolean).join('/') ||
        (Object.keys(d).length ? JSON.stringify(d) : '')
      );
  }
}

function Timeline({ trace }: { trace: Trace }) {
  return html`<div class="trace">
    <h3><code>${trace.source}</code> <code>${trace.id}</code></h3>
    <ol class="timeline">
      ${trace.entries.map(
        (entry) => html`<li class=${`kind-${entry.kind}`} data-kind=${entry.kind}>
          <span class="at">${when(entry.at)}</span> <span class="kind">${entry.kind}</span>
          <span class="what">${describe(entry)}</span>
        </li>`,
      )}
      ${trace.entries.length === 0 ? html`<li class="muted">not routed yet</li>` : null}
    </ol>
    ${
      (trace.emitted ?? []).length > 0
        ? html`<div class="emitted"><h4>Emitted events</h4>${(trace.emitted ?? []).map((t) => html`<${Timeline} trace=${t} />`)}</div>`
        : null
    }
    ${trace.truncated ? html`<p class="muted">Followed as far as the bus allows (truncated).</p>` : null}
  </div>`;
}

function Journey({ initial }: { initial: string }) {
  const [id, setId] = useState(initial);
  const [source, setSource] = useState('');
  const [trace, setTrace] = useState<Trace | undefined>();
  const [error, setError] = useState<string | undefined>();
  const load = async () => {
    if (id === '') return;
    try {
      const q = new URLSearchParams({ follow: 'true', ...(source === '' ? {} : { source }) });
      setTrace(await call<Trace>('GET', `/events/${encodeURIComponent(id)}/trace?${q}`));
      setError(undefined);
    } catch (e) {
      setTrace(undefined);
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  return html`<section>
    <h2>Event journey</h2>
    <form class="inline" onSubmit=${(e: Event) => {
      e.preventDefault();
      void load();
    }}>
      <input name="event-id" placeholder="event id" value=${id}
        onInput=${(e: Event) => setId((e.target as HTMLInputElement).value)} />
      <input name="event-source" placeholder="source (when the id is not unique)" value=${source}
        onInput=${(e: Event) => setSource((e.target as HTMLInputElement).value)} />
      <button type="submit">Show journey</button>
      ${trace === undefined ? null : html`<button type="button" class="secondary" onClick=${load}>Refresh</button>`}
    </form>
    <${ErrorLine} error=${error} />
    ${trace === undefined ? null : html`<${Timeline} trace=${trace} />`}
  </section>`;
}

// ---- Dead letters --------------------------------------------------------------------------------------------

interface DeadLetter {
  readonly dlId: string;
  readonly source: string;
  readonly id: string;
  readonly rule: string;
  readonly target: string;
  readonly reason: string;
  readonly at: string;
  readonly event: Json;
  readonly attempts: ReadonlyArray<{
    at: string;
    outcome: string;
    latencyMs?: number;
    error?: string;
    status?: number;
  }>;
}

function DeadLetters() {
  const [rule, setRule] = useState('');
  const [target, setTarget] = useState('');
  const [letters, setLetters] = useState<DeadLetter[] | undefined>();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [open, setOpen] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const load = async () => {
    try {
      const q = new URLSearchParams({ limit: '100' });
      if (rule !== '') q.set('rule', rule);
      if (target !== '') q.set('target', target);
      setLetters((await call<{ deadLetters: DeadLetter[] }>('GET', `/dead-letters?${q}`)).deadLetters);
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  /** Sends the selected letters to `path` (a redrive or a delete), says what it answered, and reloads the list. */
  const act = async <T>(path: string, say: (answer: T) => string) => {
    try {
      const answer = await call<T>('POST', path, { ids: [...selected] });
      setNotice(say(answer));
      setSelected(new Set());
      await load();
    } catch (e) {
      setError(message(e));
    }
  };
  const redrive = () =>
    act<{ redriven: number; skipped: number }>(
      '/dead-letters/redrive',
      (answer) => `Redriven ${answer.redriven}, skipped ${answer.skipped}.`,
    );
  const remove = async () => {
    const n = selected.size;
    // Deleted letters are gone: their events are not delivered by a redrive any more.
    if (!window.confirm(`Delete ${n} dead letter${n === 1 ? '' : 's'}? Their events will not be redriven.`))
      return;
    await act<{ deleted: number }>('/dead-letters/delete', (answer) => `Deleted ${answer.deleted}.`);
  };
  const flip = (dlId: string) => {
    const next = new Set(selected);
    if (next.has(dlId)) next.delete(dlId);
    else next.add(dlId);
    setSelected(next);
  };
  return html`<section>
    <h2>Dead letters</h2>
    <form class="inline" onSubmit=${(e: Event) => {
      e.preventDefault();
      void load();
    }}>
      <input name="rule" placeholder="rule" value=${rule} onInput=${(e: Event) => setRule((e.target as HTMLInputElement).value)} />
      <input name="target" placeholder="target" value=${target}
        onInput=${(e: Event) => setTarget((e.target as HTMLInputElement).value)} />
      <button type="submit">Filter</button>
      <button type="button" name="redrive" disabled=${selected.size === 0} onClick=${redrive}>
        Redrive selected (${selected.size})</button>
      <button type="button" name="delete" class="secondary" disabled=${selected.size === 0} onClick=${remove}>
        Delete selected (${selected.size})</button>
    </form>
    <${ErrorLine} error=${error} />
    ${notice === undefined ? null : html`<p class="notice" role="status">${notice}</p>`}
    <table class="dead-letters">
      <thead><tr><th></th><th>When</th><th>Event</th><th>Rule / target</th><th>Reason</th><th>Attempts</th></tr></thead>
      <tbody>
        ${(letters ?? []).map(
          (d) => html`<tr data-dlid=${d.dlId} data-event=${d.id}>
              <td><input type="checkbox" aria-label=${`select ${d.id}`} checked=${selected.has(d.dlId)}
                onChange=${() => flip(d.dlId)} /></td>
              <td>${when(d.at)}</td>
              <td><a href=${`#/journey/${encodeURIComponent(d.id)}`}><code>${d.source}</code> <code>${d.id}</code></a></td>
              <td>${d.rule} / ${d.target}</td>
              <td>${d.reason}</td>
              <td><button type="button" class="small secondary" onClick=${() => setOpen(open === d.dlId ? undefined : d.dlId)}>
                ${d.attempts.length} attempt${d.attempts.length === 1 ? '' : 's'}</button></td>
            </tr>
            ${
              open === d.dlId
                ? html`<tr class="detail"><td colspan="6">
                  <ol>${d.attempts.map(
                    (
                      a,
                    ) => html`<li>${when(a.at)}: ${a.outcome}${a.status === undefined ? '' : ` (HTTP ${a.status})`}
                      ${a.latencyMs === undefined ? '' : ` in ${a.latencyMs} ms`}${a.error ? ` — ${a.error}` : ''}</li>`,
                  )}</ol>
                  <pre>${JSON.stringify(d.event, null, 2)}</pre>
                </td></tr>`
                : null
            }`,
        )}
      </tbody>
    </table>
    ${letters?.length === 0 ? html`<p class="muted">No dead letters.</p>` : null}
  </section>`;
}

// ---- Pending deliveries --------------------------------------------------------------------------------------

interface Delivery {
  readonly source: string;
  readonly id: string;
  readonly rule: string;
  readonly target: string;
  readonly state: string;
  readonly createdAt: number;
  readonly dueAt: number;
  readonly attempts: number;
  readonly lastAttempt?: { outcome: string; error?: string; status?: number };
}

const deliveryKey = (d: Delivery) => JSON.stringify([d.source, d.id, d.rule, d.target]);

function Pending() {
  const [rule, setRule] = useState('');
  const [list, setList] = useState<Delivery[] | undefined>();
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const load = async () => {
    try {
      const q = new URLSearchParams({ limit: '100' });
      if (rule !== '') q.set('rule', rule);
      setList((await call<{ deliveries: Delivery[] }>('GET', `/deliveries?${q}`)).deliveries);
      setError(undefined);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const retry = async () => {
    try {
      const keys = (list ?? [])
        .filter((d) => selected.has(deliveryKey(d)))
        .map((d) => ({ source: d.source, id: d.id, rule: d.rule, target: d.target }));
      const answer = await call<{ retried: number }>('POST', '/deliveries/retry', { keys });
      setNotice(`Retried ${answer.retried} now.`);
      setSelected(new Set());
      await load();
    } catch (e) {
      setError(message(e));
    }
  };
  const flip = (key: string) => {
    const next = new Set(selected);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setSelected(next);
  };
  return html`<section>
    <h2>Pending deliveries</h2>
    <form class="inline" onSubmit=${(e: Event) => {
      e.preventDefault();
      void load();
    }}>
      <input name="rule" placeholder="rule" value=${rule} onInput=${(e: Event) => setRule((e.target as HTMLInputElement).value)} />
      <button type="submit">Filter</button>
      <button type="button" name="retry" disabled=${selected.size === 0} onClick=${retry}>
        Retry selected now (${selected.size})</button>
    </form>
    <${ErrorLine} error=${error} />
    ${notice === undefined ? null : html`<p class="notice" role="status">${notice}</p>`}
    <table class="deliveries">
      <thead><tr><th></th><th>Event</th><th>Rule / target</th><th>State</th><th>Attempts</th><th>Due</th><th>Last attempt</th></tr></thead>
      <tbody>
        ${(list ?? []).map(
          (d) => html`<tr data-event=${d.id}>
            <td><input type="checkbox" aria-label=${`select ${d.id}`} checked=${selected.has(deliveryKey(d))}
              onChange=${() => flip(deliveryKey(d))} /></td>
            <td><a href=${`#/journey/${encodeURIComponent(d.id)}`}><code>${d.source}</code> <code>${d.id}</code></a></td>
            <td>${d.rule} / ${d.target}</td>
            <td>${d.state}</td>
            <td>${d.attempts}</td>
            <td>${when(d.dueAt)}</td>
            <td>${d.lastAttempt === undefined ? '' : `${d.lastAttempt.outcome}${d.lastAttempt.error ? ` — ${d.lastAttempt.error}` : ''}`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${list?.length === 0 ? html`<p class="muted">Nothing pending.</p>` : null}
  </section>`;
}

// ---- Replays and functions -----------------------------------------------------------------------------------

interface Replay {
  readonly name: string;
  readonly state: string;
  readonly from: string;
  readonly to: string;
  readonly rule?: string;
  readonly progress: { read: number; total: number };
  readonly counts: { events: number; deliveries: number };
  readonly error?: string;
}

function Replays() {
  const [replays, setReplays] = useState<Replay[] | undefined>();
  const [from, setFrom] = useState(new Date(Date.now() - 3_600_000).toISOString());
  const [to, setTo] = useState(new Date().toISOString());
  const [rule, setRule] = useState('');
  const [error, setError] = useState<string | undefined>();
  const load = async () => {
    try {
      setReplays((await call<{ replays: Replay[] }>('GET', '/replays')).replays);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    void load();
    const timer = setInterval(load, 2000);
    return () => clearInterval(timer);
  }, []);
  const start = async (e: Event) => {
    e.preventDefault();
    try {
      await call('POST', '/replays', { from, to, ...(rule === '' ? {} : { rule }) });
      setError(undefined);
      await load();
    } catch (err) {
      setError(message(err));
    }
  };
  return html`<section>
    <h2>Replays</h2>
    <form class="inline" onSubmit=${start}>
      <input name="from" value=${from} onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} />
      <input name="to" value=${to} onInput=${(e: Event) => setTo((e.target as HTMLInputElement).value)} />
      <input name="rule" placeholder="rule (all rules when empty)" value=${rule}
        onInput=${(e: Event) => setRule((e.target as HTMLInputElement).value)} />
      <button type="submit">Start replay</button>
    </form>
    <${ErrorLine} error=${error} />
    <table class="replays">
      <thead><tr><th>Name</th><th>State</th><th>Range</th><th>Rule</th><th>Progress</th><th>Events</th><th>Deliveries</th></tr></thead>
      <tbody>
        ${(replays ?? []).map(
          (r) => html`<tr data-replay=${r.name}>
            <td>${r.name}</td><td data-state=${r.state}>${r.state}${r.error ? ` — ${r.error}` : ''}</td>
            <td>${when(r.from)} – ${when(r.to)}</td><td>${r.rule ?? 'all'}</td>
            <td>${r.progress.read} / ${r.progress.total}</td>
            <td>${r.counts.events}</td><td>${r.counts.deliveries}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

interface FunctionInfo {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  readonly updatedAt: number | string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

interface FunctionActivity {
  readonly invocations: number;
  readonly failures: number;
  readonly failuresByCode: Record<string, number>;
  readonly durationMs?: { p50: number; p99: number; max: number };
  readonly lastInvokedAt?: number;
  readonly logs: Array<{ at: number; line: string }>;
  readonly droppedLines: number;
}

const SAMPLE_FUNCTION = `export async function handler(event: { id: string; data?: unknown }) {
  console.log('got', event.id);
}
`;

/** Deploys a function from the browser: its source (TypeScript or JavaScript), timeout and memory. */
function DeployFunction({ done }: { done: (name: string) => void }) {
  const [name, setName] = useState('');
  const [source, setSource] = useState(SAMPLE_FUNCTION);
  const [timeoutMs, setTimeoutMs] = useState('10000');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const deploy = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const q = new URLSearchParams({ timeoutMs });
      await call('PUT', `/functions/${encodeURIComponent(name)}?${q}`, source, 'application/typescript');
      setError(undefined);
      done(name);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${deploy}>
    <h3>Deploy a function</h3>
    <label>Name <input name="function-name" value=${name}
      onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
    <label>Timeout (ms) <input name="function-timeout" type="number" min="1" value=${timeoutMs}
      onInput=${(e: Event) => setTimeoutMs((e.target as HTMLInputElement).value)} /></label>
    <label>Source (TypeScript or JavaScript exporting <code>handler(event, context)</code>)
      <textarea name="function-source" rows="10" spellcheck="false" value=${source}
        onInput=${(e: Event) => setSource((e.target as HTMLTextAreaElement).value)}></textarea></label>
    <${ErrorLine} error=${error} />
    <button type="submit" disabled=${busy}>${busy ? 'Deploying…' : 'Deploy'}</button>
  </form>`;
}

/** One function's invocations, failures, durations and last log lines, refreshed every 2 s. */
function Activity({ name }: { name: string }) {
  const [activity, setActivity] = useState<FunctionActivity | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let live = true;
    const load = () =>
      call<FunctionActivity>('GET', `/functions/${encodeURIComponent(name)}/activity`)
        .then((a) => {
          if (live) {
            setActivity(a);
            setError(undefined);
          }
        })
        .catch((e: unknown) => live && setError(message(e)));
    void load();
    const timer = setInterval(load, 2000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [name]);
  const a = activity;
  return html`<section class="activity" data-activity=${name}>
    <h3>Activity of ${name}</h3>
    <${ErrorLine} error=${error} />
    ${
      a === undefined
        ? null
        : html`<p>
        <span data-stat="invocations">${a.invocations}</span> invocations,${' '}
        <span data-stat="failures">${a.failures}</span> failed
        ${Object.entries(a.failuresByCode).map(([code, n]) => html` <code>${code}</code> ×${n}`)}
        ${a.durationMs === undefined ? null : html` · p50 ${a.durationMs.p50.toFixed(1)} ms, p99 ${a.durationMs.p99.toFixed(1)} ms`}
        ${a.lastInvokedAt === undefined ? null : html` · last ${when(a.lastInvokedAt)}`}
      </p>
      <pre class="logs">${a.logs.length === 0 ? '(no log lines yet)' : a.logs.map((l) => `${when(l.at)}  ${l.line}`).join('\n')}</pre>
      ${a.droppedLines > 0 ? html`<p class="muted">Older lines were dropped (the last ${a.logs.length} are kept).</p>` : null}`
    }
  </section>`;
}

function Functions() {
  const [list, setList] = useState<FunctionInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<string | undefined>();
  const [deploying, setDeploying] = useState(false);
  const load = () =>
    call<{ functions: FunctionInfo[] }>('GET', '/functions')
      .then((answer) => setList(answer.functions))
      .catch((e: unknown) => setError(message(e)));
  useEffect(() => {
    void load();
  }, []);
  return html`<section>
    <h2>Functions <button type="button" class="small" onClick=${() => setDeploying(!deploying)}>Deploy a function</button></h2>
    ${
      deploying
        ? html`<${DeployFunction} done=${(name: string) => {
            setDeploying(false);
            setSelected(name);
            void load();
          }} />`
        : null
    }
    <${ErrorLine} error=${error} />
    <table class="functions">
      <thead><tr><th>Name</th><th>Size</th><th>SHA-256</th><th>Updated</th><th>Timeout</th><th>Memory</th><th></th></tr></thead>
      <tbody>
        ${(list ?? []).map(
          (f) => html`<tr data-function=${f.name}>
            <td>${f.name}</td><td>${f.size} B</td><td><code>${f.sha256.slice(0, 12)}</code></td>
            <td>${when(f.updatedAt)}</td><td>${f.timeoutMs} ms</td><td>${f.memoryMb} MB</td>
            <td><button type="button" class="small secondary" onClick=${() => setSelected(selected === f.name ? undefined : f.name)}>Activity</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${list?.length === 0 ? html`<p class="muted">No functions deployed.</p>` : null}
    ${selected === undefined ? null : html`<${Activity} name=${selected} key=${selected} />`}
  </section>`;
}

// ---- Shell ---------------------------------------------------------------------------------------------------

/**
 * The bus the console shows: the buses the key may read (`GET /buses`); every page then calls that bus's API
 * (`/buses/{name}/…`). With a key that may read one bus only, that bus is the only choice.
 */
function BusPicker({ changed }: { changed: () => void }) {
  const [buses, setBuses] = useState<string[]>([currentBus()]);
  useEffect(() => {
    call<{ buses: Array<{ name: string }> }>('GET', '/buses')
      .then((answer) => {
        const names = answer.buses.map((b) => b.name);
        setBuses(names.length === 0 ? [currentBus()] : names);
        if (names.length > 0 && !names.includes(currentBus())) {
          setBus(names[0] as string);
          changed();
        }
      })
      .catch(() => setBuses([currentBus()]));
  }, []);
  return html`<label class="bus">bus <select name="bus" value=${currentBus()}
    onChange=${(e: Event) => {
      setBus((e.target as HTMLSelectElement).value);
      changed();
    }}>
    ${buses.map((name) => html`<option value=${name}>${name}</option>`)}
  </select></label>`;
}

function App({ initialPrompt }: { initialPrompt?: string }) {
  const hash = useHash();
  const [prompt, setPrompt] = useState<string | undefined>(initialPrompt);
  const [generation, setGeneration] = useState(0);
  useEffect(() => whenUnauthorized((reason) => setPrompt(reason)), []);
  const [, page = 'overview', arg = ''] = hash.split('/');
  const nav = [
    ['overview', 'Overview'],
    ['rules', 'Rules'],
    ['events', 'Events'],
    ['journey', 'Journey'],
    ['dead-letters', 'Dead letters'],
    ['pending', 'Pending'],
    ['replays', 'Replays'],
    ['functions', 'Functions'],
  ];
  let body: unknown;
  if (prompt !== undefined) {
    body = html`<${KeyPrompt} reason=${prompt} done=${() => {
      setPrompt(undefined);
      setGeneration(generation + 1);
    }} />`;
  } else if (page === 'rules') body = html`<${Rules} />`;
  else if (page === 'journey') body = html`<${Journey} initial=${decodeURIComponent(arg)} key=${arg} />`;
  else if (page === 'dead-letters') body = html`<${DeadLetters} />`;
  else if (page === 'events') body = html`<${Events} /><${LiveTail} />`;
  else if (page === 'pending') body = html`<${Pending} />`;
  else if (page === 'replays') body = html`<${Replays} />`;
  else if (page === 'functions') body = html`<${Functions} />`;
  else body = html`<${Overview} />`;
  return html`<header>
      <h1>Junction</h1>
      <${BusPicker} key=${generation} changed=${() => setGeneration(generation + 1)} />
      <nav>${nav.map(([id, label]) => html`<a href=${`#/${id}`} class=${page === id ? 'active' : ''}>${label}</a>`)}</nav>
      ${
        apiKey() === null
          ? null
          : html`<button class="small secondary" onClick=${() => {
              setApiKey(null);
              setPrompt('Signed out: enter an API key to continue.');
            }}>Sign out</button>`
      }
    </header>
    <main key=${generation}>${body}</main>`;
}

const root = document.getElementById('app');
if (root !== null) {
  // Back from the issuer's sign-in (`?code=`): exchange the code first, so the app starts signed in.
  const returning = /[?&](code|error)=/.test(location.search);
  (returning ? signInConfig().then(completeSignIn) : Promise.resolve(undefined))
    .catch((error: unknown) => `Sign-in failed: ${String(error)}`)
    .then((failure) => {
      root.textContent = '';
      render(html`<${App} initialPrompt=${failure} />`, root);
    });
}
