// Talon console, the views: sign-in, the client list, create (scope grid), the one-time secret, client
// detail (edit, reset secret, disable, revoke tokens, delete) and the audit log. Routing is by the URL
// fragment (#/clients, #/clients/new, #/clients/<id>, #/audit). Every value from the server reaches the
// page through text nodes (h() below), never as HTML, so a client named <script> is only text.

import * as api from './api.js';

const PAGE = 50;
/** Resources the Falcon console names differently from their scope. */
const LABELS = { devices: 'Hosts (devices)', 'api-clients': 'API clients (Talon admin)' };

/** Builds an element; strings among the children become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

const main = () => document.getElementById('main');

/** Goes to a view: by changing the fragment, or by drawing it again when the fragment is already there. */
function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** Replaces the page's content and moves focus to its heading, for keyboard and screen-reader users. */
function show(...nodes) {
  const m = main();
  m.replaceChildren(...nodes);
  const heading = m.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}

function when(seconds) {
  if (seconds === null || seconds === undefined) return 'never';
  return `${new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}

/** A client's scopes in a list cell: all of them by name when few, else the first ones and a count. */
function scopeSummary(scopes, catalogueSize) {
  if (catalogueSize && scopes.length === catalogueSize) return `All ${scopes.length} scopes`;
  if (scopes.length <= 4) return scopes.join(', ');
  return `${scopes.slice(0, 3).join(', ')} and ${scopes.length - 3} more`;
}

function errorBox() {
  return h('p', { class: 'error', role: 'alert', id: 'error', hidden: true });
}

function showError(box, error) {
  box.hidden = false;
  const trace = error.traceId ? ` (trace ID ${error.traceId})` : '';
  box.textContent = `${error.message}${trace}`;
}

/** Runs a call, sending the user to sign-in when the session ended. */
async function guarded(box, work) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) {
      go('#/sign-in');
      return undefined;
    }
    showError(box, error);
    return undefined;
  }
}

function confirmAction(title, text, okLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  ok.textContent = okLabel;
  return new Promise((resolve) => {
    const finish = (answer) => {
      ok.onclick = null;
      cancel.onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    ok.onclick = () => finish(true);
    cancel.onclick = () => finish(false);
    dialog.onclose = () => finish(false);
    dialog.showModal();
    cancel.focus();
  });
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select and copy by hand';
  }
}

function lines(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s.length > 0);
}

// ---- sign-in

function signInView() {
  const box = errorBox();
  const id = h('input', { id: 'client-id', name: 'client_id', required: true, autocomplete: 'username', spellcheck: 'false' });
  const secret = h('input', { id: 'client-secret', name: 'client_secret', type: 'password', required: true, autocomplete: 'current-password' });
  const form = h('form', { class: 'card narrow', id: 'sign-in-form' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Use an API client that holds the api-clients scopes, such as the admin client that talon serve printed on its first start.'),
    h('label', { for: 'client-id' }, 'Client ID'), id,
    h('label', { for: 'client-secret' }, 'Client secret'), secret,
    box,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    box.hidden = true;
    try {
      await api.signIn(id.value.trim(), secret.value);
      secret.value = '';
      go('#/clients');
    } catch (error) {
      showError(box, error);
    }
  });
  show(form);
}

// ---- client list

async function clientsView(offset) {
  const box = errorBox();
  const answer = await guarded(box, () => api.call('GET', `${api.CLIENTS}?offset=${offset}&limit=${PAGE}`));
  const header = h('div', { class: 'title-row' },
    h('h1', {}, 'API clients'),
    h('a', { class: 'button', href: '#/clients/new', id: 'new-client' }, 'Create API client'));
  if (!answer) {
    show(header, box);
    return;
  }
  const catalogue = (await guarded(box, () => api.resources()))?.length * 2;
  const rows = answer.resources.map((c) => h('tr', {},
    h('td', { 'data-label': 'Name', class: 'name' }, h('a', { href: `#/clients/${c.client_id}` }, c.name)),
    h('td', { 'data-label': 'Client ID' }, h('code', { class: 'id' }, c.client_id)),
    h('td', { 'data-label': 'Scopes', title: c.scopes.join(' ') }, scopeSummary(c.scopes, catalogue)),
    h('td', { 'data-label': 'CID', title: c.cid }, h('code', { class: 'id' }, `${c.cid.slice(0, 8)}…`)),
    h('td', { 'data-label': 'Enabled' }, c.enabled ? 'Yes' : h('strong', { class: 'off' }, 'Disabled')),
    h('td', { 'data-label': 'Last used', class: 'time' }, when(c.last_used_at))));
  const table = h('table', { class: 'list', id: 'clients' },
    h('thead', {}, h('tr', {}, ['Name', 'Client ID', 'Scopes', 'CID', 'Enabled', 'Last used'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
  show(header, box, rows.length ? table : h('p', { class: 'muted' }, 'No API clients.'), pager(answer.meta.pagination, '#/clients'));
}

function pager(p, base) {
  const nav = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const last = Math.min(p.offset + p.limit, p.total);
  nav.append(h('span', { class: 'muted' }, p.total ? `${p.offset + 1}–${last} of ${p.total}` : ''));
  if (p.offset > 0) nav.append(h('a', { class: 'button secondary', href: `${base}?offset=${Math.max(0, p.offset - p.limit)}` }, 'Previous'));
  if (last < p.total) nav.append(h('a', { class: 'button secondary', href: `${base}?offset=${last}` }, 'Next'));
  return nav;
}

// ---- the client form (create and edit share it)

async function scopeGrid(selected) {
  const chosen = new Set(selected);
  const names = await api.resources();
  const rows = names.map((r) => h('tr', {},
    h('th', { scope: 'row' }, LABELS[r] ?? r),
    ['read', 'write'].map((access) => h('td', {},
      h('input', { type: 'checkbox', id: `scope-${r}-${access}`, value: `${r}:${access}`, checked: chosen.has(`${r}:${access}`),
        'aria-label': `${LABELS[r] ?? r}: ${access === 'read' ? 'Read' : 'Write'}` })))));
  // The catalogue has over a hundred resources: a filter narrows the grid to the ones named, and keeps
  // every row with a ticked box in view, so a filter never hides what the client will hold.
  const filter = h('input', { type: 'search', id: 'scope-filter', placeholder: 'Filter scopes, e.g. host', 'aria-label': 'Filter scopes',
    oninput: () => {
      const wanted = filter.value.trim().toLowerCase();
      for (const row of rows) {
        const name = row.querySelector('th').textContent.toLowerCase();
        const ticked = row.querySelector('input:checked') !== null;
        row.hidden = wanted !== '' && !name.includes(wanted) && !ticked;
      }
    } });
  return h('fieldset', { class: 'scopes' },
    h('legend', {}, 'API scopes'),
    h('label', { class: 'scope-filter' }, filter),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Scope'), h('th', { scope: 'col' }, 'Read'), h('th', { scope: 'col' }, 'Write'))),
        h('tbody', {}, rows))));
}

function checkedScopes(form) {
  return [...form.querySelectorAll('fieldset.scopes input:checked')].map((i) => i.value);
}

async function clientForm(client, submitLabel, onSubmit) {
  const box = errorBox();
  const field = (id, label, input, hint) => [h('label', { for: id }, label), input, hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null];
  const name = h('input', { id: 'name', required: true, maxlength: 128, value: client?.name ?? '' });
  const description = h('textarea', { id: 'description', rows: 2, maxlength: 1024 });
  description.value = client?.description ?? '';
  const members = h('textarea', { id: 'member-cids', rows: 2, 'aria-describedby': 'member-cids-hint', spellcheck: 'false' });
  members.value = (client?.member_cids ?? []).join('\n');
  const ips = h('textarea', { id: 'allowed-ips', rows: 2, 'aria-describedby': 'allowed-ips-hint', spellcheck: 'false' });
  ips.value = (client?.allowed_ips ?? []).join('\n');
  const form = h('form', { class: 'card', id: 'client-form' },
    field('name', 'Name', name),
    field('description', 'Description', description),
    await scopeGrid(client?.scopes ?? []),
    field('member-cids', 'Member CIDs', members, 'Child customers this client may act for (MSSP), one per line.'),
    field('allowed-ips', 'IP allow-list', ips, 'Networks such as 10.0.0.0/8, one per line. Empty: any address.'),
    box,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'save' }, submitLabel)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    box.hidden = true;
    const scopes = checkedScopes(form);
    if (scopes.length === 0) {
      showError(box, new Error('Choose at least one scope.'));
      return;
    }
    await guarded(box, () => onSubmit({
      name: name.value,
      description: description.value,
      scopes,
      member_cids: lines(members.value),
      allowed_ips: lines(ips.value),
    }));
  });
  return form;
}

// The fields of `body` that differ from client `c` (lists compared as sets). A save sends only what the
// admin changed, so a form loaded a while ago cannot undo another admin's change to another field.
function changedFields(c, body) {
  const same = (value, current) => (Array.isArray(value)
    ? [...value].sort().join('\n') === [...(current ?? [])].sort().join('\n')
    : value === (current ?? ''));
  return Object.fromEntries(Object.entries(body).filter(([key, value]) => !same(value, c[key])));
}

async function createView() {
  const form = await clientForm(null, 'Create API client', async (body) => {
    const answer = await api.call('POST', api.CLIENTS, body);
    secretView(answer.resources[0], 'API client created');
  });
  show(h('h1', {}, 'Create API client'), form);
}

// ---- the one-time secret

function secretView(client, title) {
  const secret = h('code', { id: 'secret-value', class: 'secret' }, client.client_secret);
  const copySecret = h('button', { type: 'button', id: 'copy-secret' }, 'Copy secret');
  copySecret.addEventListener('click', () => copyText(client.client_secret, copySecret));
  const copyId = h('button', { type: 'button', class: 'secondary', id: 'copy-id' }, 'Copy ID');
  copyId.addEventListener('click', () => copyText(client.client_id, copyId));
  const done = h('button', { type: 'button', id: 'secret-done' }, 'I have saved the secret');
  done.addEventListener('click', () => go(`#/clients/${client.client_id}`));
  show(
    h('h1', {}, title),
    h('section', { class: 'card' },
      h('p', { class: 'warning', role: 'alert' }, 'Copy the secret now: you will not see this again. Talon keeps only a digest of it.'),
      h('dl', {},
        h('dt', {}, 'Name'), h('dd', {}, client.name),
        h('dt', {}, 'Client ID'), h('dd', {}, h('code', { id: 'secret-client-id' }, client.client_id), ' ', copyId),
        h('dt', {}, 'Secret'), h('dd', {}, secret, ' ', copySecret)),
      h('div', { class: 'actions' }, done)));
}

// ---- client detail

async function detailView(id) {
  const box = errorBox();
  const answer = await guarded(box, () => api.call('GET', api.clientPath(id)));
  if (!answer) {
    show(h('h1', {}, 'API client'), box, h('p', {}, h('a', { href: '#/clients' }, 'Back to the list')));
    return;
  }
  const c = answer.resources[0];
  const list = (items) => (items.length ? items.join(', ') : 'none');
  const facts = h('dl', { class: 'card facts' },
    h('dt', {}, 'Client ID'), h('dd', {}, h('code', { id: 'detail-id' }, c.client_id)),
    h('dt', {}, 'Description'), h('dd', { id: 'detail-description' }, c.description || '—'),
    h('dt', {}, 'Status'), h('dd', { id: 'detail-status' }, c.enabled ? 'Enabled' : 'Disabled'),
    h('dt', {}, 'Scopes'), h('dd', {}, list(c.scopes)),
    h('dt', {}, 'CID'), h('dd', {}, h('code', {}, c.cid)),
    h('dt', {}, 'Member CIDs'), h('dd', {}, list(c.member_cids)),
    h('dt', {}, 'IP allow-list'), h('dd', {}, c.allowed_ips.length ? c.allowed_ips.join(', ') : 'any address'),
    h('dt', {}, 'Created'), h('dd', {}, when(c.created_at)),
    h('dt', {}, 'Updated'), h('dd', {}, when(c.updated_at)),
    h('dt', {}, 'Last used'), h('dd', {}, when(c.last_used_at)));

  const action = (id, label, cls, title, text, ok, run) => {
    const button = h('button', { type: 'button', id, class: cls }, label);
    button.addEventListener('click', async () => {
      if (await confirmAction(title, text, ok)) await guarded(box, run);
    });
    return button;
  };
  const path = api.clientPath(c.client_id);
  const actions = h('div', { class: 'actions wrap', role: 'group', 'aria-label': 'Actions' },
    action('reset-secret', 'Reset secret', 'secondary', `Reset the secret of “${c.name}”?`,
      'The current secret and every token issued with it stop working at once. The new secret is shown once.',
      'Reset secret', async () => secretView((await api.call('POST', `${path}/reset-secret`)).resources[0], 'Secret reset')),
    action('toggle-enabled', c.enabled ? 'Disable' : 'Enable', 'secondary',
      c.enabled ? `Disable “${c.name}”?` : `Enable “${c.name}”?`,
      c.enabled ? 'The client gets no new tokens and its live tokens are refused at once.' : 'The client may get tokens again. Tokens it held before it was disabled stay refused.',
      c.enabled ? 'Disable' : 'Enable', async () => {
        await api.call('PATCH', path, { enabled: !c.enabled });
        await detailView(c.client_id);
      }),
    action('revoke-tokens', 'Revoke all tokens', 'secondary', `Revoke every token of “${c.name}”?`,
      'Every token the client holds now is refused at once. The client can get new tokens.', 'Revoke tokens', async () => {
        await api.call('POST', `${path}/revoke-tokens`);
        notice('All tokens of this client were revoked.');
      }),
    action('delete', 'Delete', 'danger', `Delete “${c.name}”?`,
      'The client and its tokens stop working at once. This cannot be undone.', 'Delete', async () => {
        await api.call('DELETE', path);
        go('#/clients');
      }));
  const status = h('p', { id: 'notice', role: 'status', class: 'notice' });
  const notice = (text) => { status.textContent = text; };

  const edit = await clientForm(c, 'Save changes', async (body) => {
    const changed = changedFields(c, body);
    if (Object.keys(changed).length === 0) {
      notice('Nothing to save: no field was changed.');
      return;
    }
    await api.call('PATCH', path, changed);
    await detailView(c.client_id);
  });
  show(
    h('p', {}, h('a', { href: '#/clients' }, '← API clients')),
    h('h1', { id: 'detail-name' }, c.name),
    box, status, facts, actions,
    h('h2', {}, 'Edit'), edit);
}

// ---- audit log

async function auditView(offset) {
  const box = errorBox();
  const answer = await guarded(box, () => api.call('GET', `${api.AUDIT}?offset=${offset}&limit=${PAGE}`));
  if (!answer) {
    show(h('h1', {}, 'Audit log'), box);
    return;
  }
  const short = (id) => h('code', { class: 'id', title: id }, id.length > 12 ? `${id.slice(0, 8)}…` : id);
  const rows = answer.resources.map((e) => h('tr', {},
    h('td', { 'data-label': 'When', class: 'time' }, when(e.at)),
    h('td', { 'data-label': 'Action', class: 'nowrap' }, e.action),
    h('td', { 'data-label': 'Actor' }, short(e.actor)),
    h('td', { 'data-label': 'Client' }, e.target ? h('a', { href: `#/clients/${e.target}` }, short(e.target)) : '—'),
    h('td', { 'data-label': 'Details' }, e.details),
    h('td', { 'data-label': 'Source IP', class: 'nowrap' }, e.source_ip),
    h('td', { 'data-label': 'Trace ID' }, h('code', { class: 'small' }, e.trace_id))));
  const table = h('table', { class: 'list', id: 'audit' },
    h('thead', {}, h('tr', {}, ['When', 'Action', 'Actor', 'Client', 'Details', 'Source IP', 'Trace ID'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows));
  show(h('h1', {}, 'Audit log'), box, rows.length ? table : h('p', { class: 'muted' }, 'Nothing recorded yet.'), pager(answer.meta.pagination, '#/audit'));
}

// ---- routing

async function route() {
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const offset = Math.max(0, Number(new URLSearchParams(query ?? '').get('offset')) || 0);
  const signedIn = api.session();
  const nav = document.getElementById('nav');
  nav.hidden = !signedIn;
  document.getElementById('whoami').textContent = signedIn ? `Signed in as ${signedIn.client_id}` : '';
  for (const link of nav.querySelectorAll('a')) {
    if (path?.startsWith(`/${link.dataset.view}`)) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!signedIn) {
    signInView();
    return;
  }
  const parts = (path ?? '').split('/').filter(Boolean);
  if (parts[0] === 'audit') await auditView(offset);
  else if (parts[0] === 'clients' && parts[1] === 'new') await createView();
  else if (parts[0] === 'clients' && parts[1]) await detailView(parts[1]);
  else if (parts[0] === 'clients') await clientsView(offset);
  else go('#/clients');
}

document.getElementById('sign-out').addEventListener('click', () => {
  api.signOut();
  go('#/sign-in');
});
window.addEventListener('hashchange', route);
route();
