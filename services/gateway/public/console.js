// Cortex Console: sign in, send input, watch your own event stream and the services' health.
// Plain DOM, no framework. Text from the server is only ever set with textContent.

const HEALTH_EVERY_MS = 1500;
const MAX_EVENTS = 200;
const KEY = {
  token: 'cortex.token',
  user: 'cortex.user',
  lastId: 'cortex.lastEventId',
  events: 'cortex.events',
  pending: 'cortex.pending',
};

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const store = window.sessionStorage;
const readJson = (key, fallback) => {
  try {
    return JSON.parse(store.getItem(key) ?? '') ?? fallback;
  } catch {
    return fallback;
  }
};

const state = {
  token: store.getItem(KEY.token),
  userId: store.getItem(KEY.user),
  source: undefined,
  retryTimer: undefined,
  retryDelayMs: 1000,
  prevLastId: '',
  healthTimer: undefined,
  refreshTimer: undefined,
  confirming: false,
  draftKey: undefined,
  /** Rendered events by item id (`{ev, li}`): the de-duplication key. */
  shown: new Map(),
  pending: new Set(readJson(KEY.pending, [])),
};

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setData(el, name, value) {
  if (el.dataset[name] !== value) el.dataset[name] = value;
}

class ApiError extends Error {
  constructor(status, body) {
    const err = body?.error ?? {};
    super(err.message ?? `The gateway answered ${status}`);
    this.status = status;
    this.code = err.code ?? `http_${status}`;
    this.requestId = err.request_id;
  }
}

const describe = (err) =>
  err instanceof ApiError
    ? `${err.message} (${err.code}${err.requestId ? `, request ${err.requestId}` : ''})`
    : `Could not reach the gateway (${err?.message ?? err})`;

async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (state.token) init.headers.authorization = `Bearer ${state.token}`;
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const parsed = await res.json().catch(() => undefined);
  if (!res.ok) {
    const err = new ApiError(res.status, parsed);
    if (res.status === 401 && state.token) signOut(`Your session has ended: ${err.message}`);
    throw err;
  }
  return parsed;
}

function claimsOf(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return undefined;
  }
}

function tokenExpired(token) {
  const claims = claimsOf(token);
  return !claims || (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now());
}

function setToken(token) {
  store.setItem(KEY.token, token);
  state.token = token;
  scheduleRefresh();
}

/**
 * A token is renewed halfway through its life (POST /auth/refresh), so the session outlives it.
 * The gateway ends a stream when the token that opened it expires; the console then reconnects
 * with the fresh token and resumes from its last event id.
 */
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  const claims = state.token ? claimsOf(state.token) : undefined;
  if (typeof claims?.exp !== 'number') return;
  const issued = typeof claims.iat === 'number' ? claims.iat : Date.now() / 1000;
  const at = (issued + (claims.exp - issued) / 2) * 1000;
  state.refreshTimer = setTimeout(refreshToken, Math.min(Math.max(at - Date.now(), 1000), 2 ** 31 - 1));
}

async function refreshToken() {
  const token = state.token;
  if (!token) return;
  try {
    const res = await fetch('/auth/refresh', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await res.json().catch(() => undefined);
    if (state.token !== token) return;
    if (res.ok && typeof body?.access_token === 'string') return setToken(body.access_token);
    // Refused (the session is too old): the stream ends at expiry and the user signs in again.
    if (res.status === 401) return;
  } catch {
    // The gateway is away: try again shortly, while the token still lasts.
  }
  if (state.token === token && !tokenExpired(token)) state.refreshTimer = setTimeout(refreshToken, 5000);
}

// ---- Session -------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $('sign-in-error');
  setText(error, '');
  const username = form.username.value.trim();
  if (!username || !form.password.value) return setText(error, 'Enter a username and a password.');
  form.querySelector('button').disabled = true;
  try {
    const res = await api('/auth/login', {
      method: 'POST',
      body: { username, password: form.password.value },
    });
    store.setItem(KEY.user, res.user_id);
    setToken(res.access_token);
    state.userId = res.user_id;
    form.reset();
    showWorkspace();
    void loadRecentHistory();
  } catch (err) {
    setText(error, describe(err));
  } finally {
    form.querySelector('button').disabled = false;
  }
}

function signOut(message = '') {
  state.source?.close();
  state.source = undefined;
  clearTimeout(state.retryTimer);
  clearTimeout(state.healthTimer);
  clearTimeout(state.refreshTimer);
  state.healthTimer = undefined;
  for (const key of Object.values(KEY)) store.removeItem(key);
  Object.assign(state, { token: null, userId: null, prevLastId: '', pending: new Set() });
  state.shown.clear();
  $('events').replaceChildren();
  $('events-empty').hidden = false;
  $('session').hidden = true;
  $('workspace').hidden = true;
  $('sign-in').hidden = false;
  setText($('sign-in-error'), message);
  $('username').focus();
}

function showWorkspace() {
  $('sign-in').hidden = true;
  $('workspace').hidden = false;
  $('session').hidden = false;
  setText($('user-id'), state.userId ?? '');
  for (const ev of readJson(KEY.events, []).reverse()) addEvent(ev, false);
  connectStream();
  pollHealth();
  $('input-content').focus();
}

// ---- Sending input -------------------------------------------------------------------------

const RESULT = {
  received: ['Stored', 'Memory has it.'],
  received_storage_pending: [
    'Stored later',
    'Memory is unavailable; the gateway holds it safely and stores it when memory is back.',
  ],
  received_not_stored: [
    'Not stored — resend',
    'The gateway could not even hold it. Your text is kept: send it again.',
  ],
};

function showResult(status, label, text, itemId = '') {
  const el = $('input-status');
  const strong = document.createElement('strong');
  strong.textContent = label;
  el.replaceChildren(strong, document.createTextNode(` ${text}`));
  el.dataset.status = status;
  el.dataset.itemId = itemId;
}

function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function sendInput(event) {
  event.preventDefault();
  const content = $('input-content').value.trim();
  const conversation = $('input-conversation').value.trim();
  if (!content) return showResult('error', 'Nothing to send', 'Write a message first.');
  // One key per draft: a resend after a lost answer cannot store the text twice.
  state.draftKey ??= randomKey();
  $('input-submit').disabled = true;
  showResult('sending', 'Sending…', '');
  try {
    const res = await api('/input', {
      method: 'POST',
      headers: { 'idempotency-key': state.draftKey },
      body: { content, ...(conversation ? { conversation_id: conversation } : {}) },
    });
    const [label, text] = RESULT[res.status] ?? ['Received', res.status];
    showResult(res.status, label, `${text} Item ${res.item_id}.`, res.item_id);
    if (res.status === 'received_not_stored') return setText($('input-submit'), 'Resend');
    if (res.status === 'received_storage_pending') markPending(res.item_id, true);
    state.draftKey = undefined;
    $('input-content').value = '';
    setText($('input-submit'), 'Send');
  } catch (err) {
    showResult('error', 'Not sent', describe(err));
  } finally {
    $('input-submit').disabled = false;
  }
}

// ---- The event stream ----------------------------------------------------------------------

function setStreamState(value) {
  const badge = $('stream-state');
  setData(badge, 'state', value);
  setText(badge, value);
}

function connectStream() {
  state.source?.close();
  clearTimeout(state.retryTimer);
  if (!state.token) return;
  if (tokenExpired(state.token)) return signOut('Your session has expired: sign in again.');
  const params = new URLSearchParams({ token: state.token });
  // The browser sends Last-Event-ID on its own reconnects only; a fresh page load must say it.
  const lastId = store.getItem(KEY.lastId);
  if (lastId) params.set('last_event_id', lastId);
  state.prevLastId = '';
  setStreamState('connecting');
  const source = new EventSource(`/output/stream?${params}`);
  state.source = source;
  source.onmessage = (e) => onStreamMessage(e);
  source.onerror = () => {
    if (source !== state.source) return;
    setStreamState('reconnecting');
    // CONNECTING: the browser retries by itself. CLOSED: it gave up (e.g. a 4xx); retry ourselves.
    if (source.readyState === EventSource.CLOSED) {
      state.retryTimer = setTimeout(connectStream, state.retryDelayMs);
      state.retryDelayMs = Math.min(state.retryDelayMs * 2, 30_000);
    }
  };
}

function onStreamMessage(e) {
  let ev;
  try {
    ev = JSON.parse(e.data);
  } catch {
    return;
  }
  // An event without an `id:` line leaves lastEventId unchanged: that is a not-yet-stored input.
  const carriedId = e.lastEventId !== '' && e.lastEventId !== state.prevLastId;
  if (e.lastEventId) {
    store.setItem(KEY.lastId, e.lastEventId);
    state.prevLastId = e.lastEventId;
  }
  if (ev.type === 'connection_established') {
    state.retryDelayMs = 1000;
    setText($('stream-error'), '');
    setStreamState('live');
  } else if (ev.type === 'error' && ev.code === 'token_expired') {
    // The token that opened this stream has expired: reopen with the current (refreshed) one.
    setStreamState('reconnecting');
    connectStream();
  } else if (ev.type === 'error') {
    setText($('stream-error'), `Stream: ${ev.message ?? 'unknown problem'}`);
  } else if (ev.type === 'input' || ev.type === 'task_failed') {
    if (ev.type === 'input' && !carriedId && !state.shown.has(ev.id)) markPending(ev.id, true);
    // A stored copy of an input shown while pending: it has been stored since.
    if (carriedId && state.pending.has(ev.id)) markPending(ev.id, false);
    addEvent(ev, true);
  }
}

function addEvent(ev, persist) {
  if (typeof ev?.id !== 'string') return;
  const existing = state.shown.get(ev.id);
  if (existing) return refreshState(existing.li);
  const li = renderEvent(ev);
  const when = Date.parse(ev.timestamp ?? '') || Date.now();
  li.dataset.time = String(when);
  state.shown.set(ev.id, { ev, li });
  const list = $('events');
  const older = [...list.children].find((c) => Number(c.dataset.time) < when);
  list.insertBefore(li, older ?? null);
  while (list.children.length > MAX_EVENTS) {
    state.shown.delete(list.lastElementChild.dataset.itemId);
    list.lastElementChild.remove();
  }
  $('events-empty').hidden = true;
  if (persist) saveEvents();
}

function saveEvents() {
  const events = [...$('events').children].map((li) => state.shown.get(li.dataset.itemId)?.ev);
  store.setItem(KEY.events, JSON.stringify(events.filter(Boolean)));
}

function renderEvent(ev) {
  const li = document.createElement('li');
  li.className = `event event--${ev.type}`;
  Object.assign(li.dataset, { testid: 'event', itemId: ev.id, type: ev.type });
  const head = document.createElement('div');
  head.className = 'event-head';
  const kind = document.createElement('span');
  kind.className = 'event-kind';
  kind.textContent = ev.type === 'input' ? 'input' : 'task failed';
  const time = document.createElement('time');
  time.dateTime = ev.timestamp ?? '';
  time.textContent = ev.timestamp ? new Date(ev.timestamp).toLocaleTimeString() : '';
  const tag = document.createElement('span');
  tag.className = 'tag';
  tag.dataset.testid = 'event-state';
  head.append(kind, time, tag);
  const body = document.createElement('p');
  body.className = 'event-body';
  const meta = document.createElement('p');
  meta.className = 'event-meta';
  if (ev.type === 'input') {
    body.textContent = ev.data?.content ?? '';
    const conv = ev.data?.conversation_id;
    meta.textContent = `${conv ? `conversation ${conv} · ` : ''}id ${ev.id}`;
  } else {
    body.textContent = `${ev.task}: ${ev.error}`;
    meta.textContent = `tried ${(ev.backends_tried ?? []).join(', ') || 'no backend'} · id ${ev.id}`;
  }
  li.append(head, body, meta);
  refreshState(li);
  return li;
}

function refreshState(li) {
  if (li.dataset.type !== 'input') return;
  const pending = state.pending.has(li.dataset.itemId);
  setData(li, 'state', pending ? 'pending' : 'stored');
  setText(li.querySelector('.tag'), pending ? 'stored later' : 'stored');
}

function markPending(itemId, pending) {
  if (pending) state.pending.add(itemId);
  else state.pending.delete(itemId);
  store.setItem(KEY.pending, JSON.stringify([...state.pending]));
  const shown = state.shown.get(itemId);
  if (shown) refreshState(shown.li);
}

/** Pending inputs turn "stored" once memory's history has them. */
async function confirmPending() {
  if (state.confirming || state.pending.size === 0) return;
  state.confirming = true;
  try {
    const res = await api('/history?limit=200');
    // A fallback history (memory away) lists held inputs too, marked `pending`: not stored yet.
    for (const item of res.items ?? [])
      if (state.pending.has(item.id) && !item.pending) markPending(item.id, false);
  } catch {
    // Memory is still away; the next health poll tries again.
  } finally {
    state.confirming = false;
  }
}

async function loadRecentHistory() {
  try {
    const res = await api('/history?limit=20');
    for (const item of (res.items ?? []).reverse()) {
      addEvent({ type: 'input', id: item.id, data: item, timestamp: item.timestamp }, true);
    }
  } catch {
    // Only a convenience: the live stream works without it.
  }
}

// ---- Health --------------------------------------------------------------------------------

const LABEL = { healthy: 'healthy', warning: 'degraded', unhealthy: 'unhealthy', unknown: 'unknown' };

function renderDep(testid, dep, detail) {
  const el = $(testid);
  const status = typeof dep?.status === 'string' ? dep.status : 'unknown';
  setData(el, 'status', status);
  setText(el.querySelector('.dep-status'), LABEL[status] ?? status);
  setText(el.querySelector('.detail'), detail);
  const circuit = el.querySelector('.circuit');
  if (!circuit) return;
  const value = typeof dep?.circuit === 'string' ? dep.circuit : '';
  circuit.hidden = value === '';
  setData(el, 'circuit', value);
  setData(circuit, 'circuit', value);
  setText(circuit, value ? `circuit ${value.replace('_', '-')}` : '');
}

function instancesText(dep) {
  const entries = Object.entries(dep?.instances ?? {});
  if (entries.length === 0) return dep?.error ? String(dep.error) : '';
  const up = entries.filter(([, s]) => s === 'healthy' || s === 'warning').length;
  const down = entries.filter(([, s]) => s !== 'healthy' && s !== 'warning').map(([id, s]) => `${id} ${s}`);
  return [`${up}/${entries.length} up`, ...down].join(' · ');
}

function renderHealth(body) {
  const deps = body?.dependencies ?? {};
  const overall = $('health-overall');
  const status = body?.status ?? 'unknown';
  setData(overall, 'status', status);
  setText(overall, status === 'healthy' ? 'all healthy' : (LABEL[status] ?? status));
  renderDep('health-memory', deps.memory, instancesText(deps.memory));
  renderDep('health-cognition', deps.cognition, instancesText(deps.cognition));
  const streams = deps.streams;
  renderDep('health-streams', streams, streams ? `${streams.connections} open · feed ${streams.feed}` : '');
  const pending = deps.pending_store;
  const items = typeof pending?.items === 'number' ? pending.items : undefined;
  renderDep('health-pending', pending, items === undefined ? '' : `${items} waiting to be stored`);
  setData($('health-pending'), 'items', items === undefined ? '' : String(items));
  setText($('health-checked'), `Checked ${new Date().toLocaleTimeString()}`);
  if (deps.memory?.status === 'healthy') void confirmPending();
}

async function pollHealth() {
  clearTimeout(state.healthTimer);
  try {
    // The details (circuits, instances, pending count) are for signed-in users; the open
    // /health says only statuses.
    const res = await fetch('/health/details', {
      headers: state.token ? { authorization: `Bearer ${state.token}` } : {},
      signal: AbortSignal.timeout(3000),
    });
    const body = await res.json();
    // A gateway shutting down answers with an error body instead: as good as unreachable.
    if (!body?.dependencies) throw new Error(body?.error?.message ?? `health answered ${res.status}`);
    renderHealth(body);
  } catch {
    const overall = $('health-overall');
    setData(overall, 'status', 'unreachable');
    setText(overall, 'unreachable');
    for (const id of ['health-memory', 'health-cognition', 'health-streams', 'health-pending'])
      renderDep(id, undefined, '');
    setText($('health-checked'), `The gateway did not answer at ${new Date().toLocaleTimeString()}`);
  }
  if (state.token) state.healthTimer = setTimeout(pollHealth, HEALTH_EVERY_MS);
}

// ---- Start ---------------------------------------------------------------------------------

$('sign-in-form').addEventListener('submit', signIn);
$('input-form').addEventListener('submit', sendInput);
$('sign-out').addEventListener('click', () => signOut());
if (state.token && !tokenExpired(state.token)) {
  scheduleRefresh();
  showWorkspace();
} else signOut(state.token ? 'Your session has expired: sign in again.' : '');
