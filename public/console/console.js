// The support console: a framework-free page over the real API. The access token lives only in
// memory; the session survives reloads through the HttpOnly refresh cookie (POST /api/auth/refresh).

const $ = (selector) => document.querySelector(selector);
let accessToken = null;
let currentUser = null;

/** Renders text safely (never innerHTML with data). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? '')));
  return node;
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const statusClass = (status) => (status === 401 ? 's401' : status === 403 ? 's403' : status === 200 ? 'allow' : '');

async function api(method, path, body) {
  const send = () =>
    fetch(path, {
      method,
      credentials: 'include',
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  let response = await send();
  // An expired access token: refresh once through the cookie, then retry.
  if (response.status === 401 && accessToken && (await refresh())) response = await send();
  const data = response.headers.get('content-type')?.includes('json') ? await response.json() : null;
  return { status: response.status, data };
}

async function refresh() {
  const response = await fetch('/api/auth/refresh', { method: 'POST', credentials: 'include' });
  if (!response.ok) return false;
  accessToken = (await response.json()).accessToken;
  return true;
}

async function showSignedIn() {
  const me = await api('GET', '/api/auth/me');
  if (me.status !== 200) return showLogin(`Could not load your account (${me.data?.code ?? me.status}).`);
  $('#whoami-email').textContent = `${me.data.email} (${me.data.role})`;
  $('#whoami').hidden = false;
  $('#login-view').hidden = true;
  $('#app-view').hidden = false;
}

function showLogin(message = '') {
  accessToken = null;
  $('#whoami').hidden = true;
  $('#app-view').hidden = true;
  $('#login-view').hidden = false;
  $('#login-error').textContent = message;
}

$('#login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch('/api/auth/login', {
    method: 'POST',
    credentials: 'include',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: form.get('email'), password: form.get('password') }),
  });
  const data = await response.json();
  if (!response.ok) return showLogin(`${data.error} (${data.code})`);
  accessToken = data.accessToken;
  await showSignedIn();
});

$('#logout').addEventListener('click', async () => {
  await fetch('/api/auth/logout', { method: 'POST', credentials: 'include' });
  showLogin('You are logged out.');
});

function renderReport(report) {
  currentUser = report.account;
  const account = $('#account');
  account.replaceChildren();
  const rows = [
    ['Email', report.account.email],
    ['Name', report.account.name ?? '—'],
    ['Role', report.account.role],
    ['Account', report.account.disabled ? 'DISABLED' : 'enabled'],
    ['Created', when(report.account.createdAt)],
    ['Last login', when(report.account.lastLoginAt)],
    ['Password changed', when(report.account.passwordChangedAt)],
    [
      'Login lock',
      report.loginLock.lockedUntil
        ? `LOCKED until ${when(report.loginLock.lockedUntil)} (${report.loginLock.failures} failed logins)`
        : `none (${report.loginLock.failures} failed logins since the last success)`,
    ],
  ];
  for (const [label, value] of rows) account.append(el('dt', {}, label), el('dd', {}, value));

  $('#sessions tbody').replaceChildren(
    ...(report.sessions.length === 0
      ? [el('tr', {}, el('td', { colspan: '5' }, 'No active session: the user is logged out everywhere.'))]
      : report.sessions.map((s) => el('tr', {}, el('td', {}, when(s.createdAt)), el('td', {}, when(s.lastUsedAt)), el('td', {}, when(s.expiresAt)), el('td', {}, s.ip), el('td', {}, s.userAgent)))),
  );
  $('#events tbody').replaceChildren(
    ...report.events.map((e) =>
      el(
        'tr',
        { class: statusClass(e.status) },
        el('td', {}, when(e.occurredAt)),
        el('td', {}, e.kind),
        el('td', {}, e.reason ? el('span', { class: `badge ${statusClass(e.status)}` }, `${e.status} ${e.reason}`) : ''),
        el('td', {}, e.meaning ?? ''),
        el('td', {}, e.method && e.route ? `${e.method} ${e.route}` : ''),
        el('td', {}, e.ip ?? ''),
        el('td', {}, e.count),
      ),
    ),
  );
  $('#explanation').hidden = true;
  $('#revoke-result').textContent = '';
  $('#report').hidden = false;
}

async function lookup(email) {
  $('#lookup-error').textContent = '';
  const result = await api('GET', `/api/support/users/lookup?email=${encodeURIComponent(email)}`);
  if (result.status !== 200) {
    $('#report').hidden = true;
    $('#lookup-error').textContent = `${result.data?.error ?? 'Lookup failed'} (${result.data?.code ?? result.status})`;
    return;
  }
  renderReport(result.data);
}

$('#lookup-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  await lookup(new FormData(event.target).get('email'));
});

$('#explain-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const result = await api('POST', '/api/support/explain', { userId: currentUser.id, method: form.get('method'), path: form.get('path') });
  const box = $('#explanation');
  box.hidden = false;
  if (result.status !== 200) {
    box.replaceChildren(el('p', { class: 'error' }, `${result.data?.error ?? 'Explain failed'} (${result.data?.code ?? result.status})`));
    return;
  }
  const x = result.data;
  const headline =
    x.decision === 'ALLOW'
      ? 'ALLOW: this request would succeed.'
      : `${x.status} ${x.code}: ${x.status === 401 ? 'a session problem' : x.status === 403 ? 'a role or permission problem' : 'refused'}.`;
  box.replaceChildren(
    el(
      'div',
      { class: `verdict ${x.decision === 'ALLOW' ? 'allow' : statusClass(x.status)}`, id: 'verdict' },
      el('strong', {}, headline),
      el('p', {}, x.meaning ?? ''),
      el('p', {}, `Route ${x.route ?? '(none)'} needs ${x.requirement}.`),
      el('ul', { class: 'checks' }, ...x.checks.map((c) => el('li', { class: c.passed ? '' : 'failed' }, `${c.check}${c.code ? `: ${c.code}` : ''}${c.detail ? ` (${c.detail})` : ''}`))),
    ),
  );
});

$('#revoke').addEventListener('click', async () => {
  const result = await api('POST', `/api/support/users/${currentUser.id}/revoke-sessions`);
  // Reload the report first (it clears the old message), then say what happened.
  await lookup(currentUser.email);
  $('#revoke-result').textContent = result.status === 200 ? `Ended ${result.data.revoked} session(s).` : `Failed (${result.data?.code ?? result.status}).`;
});

// On load: a refresh cookie means we are still logged in.
if (await refresh()) await showSignedIn();
else showLogin();
