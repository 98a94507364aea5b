import { can, me, onSignOut, signIn, signInWithPassword, signOut } from './api.js';
import { announce, button, field, fill, h } from './dom.js';
import { form } from './forms.js';
import { auditPage } from './pages/audit.js';
import { budgetsPage } from './pages/budgets.js';
import { configPage } from './pages/config.js';
import { credentialsPage } from './pages/credentials.js';
import { keysPage } from './pages/keys.js';
import { logsPage } from './pages/logs.js';
import { pricingPage } from './pages/pricing.js';
import { routePage, routesPage } from './pages/routes.js';
import { tenantsPage } from './pages/tenants.js';
import { usagePage } from './pages/usage.js';
import { webhooksPage } from './pages/webhooks.js';

/** The sections in the navigation, each shown only to a role that may read its area. */
const SECTIONS = [
  { hash: '#/tenants', label: 'Tenants', area: 'tenants' },
  { hash: '#/routes', label: 'Routes', area: 'routes' },
  { hash: '#/budgets', label: 'Budgets', area: 'budgets' },
  { hash: '#/credentials', label: 'Credentials', area: 'credentials' },
  { hash: '#/pricing', label: 'Pricing', area: 'pricing' },
  { hash: '#/webhooks', label: 'Webhooks', area: 'webhooks' },
  { hash: '#/usage', label: 'Usage', area: 'budgets' },
  { hash: '#/logs', label: 'Request logs', area: 'routes' },
  { hash: '#/audit', label: 'Audit log', area: 'audit' },
  { hash: '#/config', label: 'Import / Export', area: 'config' },
];

/** Views by the fragment's path: `#/tenants/acme/keys` → keysPage with { tenant: 'acme' }. */
const VIEWS = [
  [/^#\/tenants$/, () => tenantsPage],
  [
    /^#\/tenants\/([^/]+)\/keys$/,
    ([tenant]) =>
      (main) =>
        keysPage(main, { tenant }),
  ],
  [/^#\/routes$/, () => routesPage],
  [
    /^#\/routes\/([^/]+)$/,
    ([id]) =>
      (main, query) =>
        routePage(main, { id, tenant: query.get('tenant_id') }),
  ],
  [/^#\/budgets$/, () => budgetsPage],
  [/^#\/credentials$/, () => credentialsPage],
  [/^#\/pricing$/, () => pricingPage],
  [/^#\/webhooks$/, () => webhooksPage],
  [/^#\/usage$/, () => usagePage],
  [/^#\/logs$/, () => logsPage],
  [/^#\/audit$/, () => auditPage],
  [/^#\/config$/, () => configPage],
];

const main = () => document.getElementById('main');

function route() {
  if (!me()) return showSignIn();
  const [path, search = ''] = (location.hash || '#/tenants').split('?');
  drawChrome(path);
  for (const [pattern, view] of VIEWS) {
    const match = pattern.exec(path);
    if (match) {
      const page = view(match.slice(1).map(decodeURIComponent));
      fill(main());
      page(main(), new URLSearchParams(search));
      // move focus to the new page's heading, so keyboard and screen-reader users start at the top of it
      main().querySelector('h1')?.focus();
      return;
    }
  }
  fill(main(), h('h1', { tabindex: '-1' }, 'Not found'), h('p', {}, h('a', { href: '#/tenants' }, 'Go to tenants')));
}

function drawChrome(path) {
  const who = me();
  fill(
    document.getElementById('nav'),
    h(
      'ul',
      {},
      SECTIONS.filter((s) => can(s.area)).map((s) =>
        h('li', {}, h('a', { href: s.hash, 'aria-current': path.startsWith(s.hash) ? 'page' : null }, s.label)),
      ),
    ),
  );
  fill(
    document.getElementById('who'),
    h('span', { class: 'who-name', title: `${who.type === 'user' ? 'user' : 'token'} ${who.id}` }, who.name),
    h('span', { class: 'badge', 'data-role': who.role }, who.tenant_id ? `${who.role} · ${who.tenant_id}` : who.role),
    button('Sign out', () => signOut('Signed out.', { end: true }), { class: 'link' }),
  );
}

/** After a sign-in of either kind: say who, and go where the address asked (tenants by default). */
function signedIn() {
  announce(`Signed in as ${me().name} (${me().role}).`);
  if (!location.hash || location.hash === '#/signin') location.hash = '#/tenants';
  else route();
}

/** A 401 of the sign-in call as an error at `path`; anything else (a 429, a 400 naming its field) as it came. */
const atField = (err, path) =>
  err.status === 401 ? { message: err.message, details: [{ path, message: err.message }] } : err;

function tokenForm() {
  return form({
    title: 'With a token',
    fields: [
      field({
        label: 'Admin token',
        name: 'token',
        type: 'password',
        required: true,
        autocomplete: 'off',
        hint: 'A personal access token (ptc_pat_…) or the owner token. It stays in this page’s memory only: reloading or closing the tab signs you out.',
      }),
    ],
    submit: 'Sign in',
    async onsubmit({ token }) {
      if (!token.trim()) throw { message: 'Enter a token', details: [{ path: 'token', message: 'is required' }] };
      try {
        await signIn(token.trim());
      } catch (err) {
        throw atField(err, 'token');
      }
      signedIn();
    },
  });
}

function passwordForm() {
  return form({
    title: 'With email and password',
    fields: [
      field({ label: 'Email', name: 'email', type: 'email', required: true, autocomplete: 'username' }),
      field({
        label: 'Password',
        name: 'password',
        type: 'password',
        required: true,
        autocomplete: 'current-password',
        hint: 'For users made under Users (/v1/admin/users). The session lasts 8 hours, in this page’s memory only.',
      }),
    ],
    submit: 'Sign in with email',
    async onsubmit({ email, password }) {
      const missing = [!email.trim() && 'email', !password && 'password'].filter(Boolean);
      if (missing.length)
        throw { message: 'Fill in both fields', details: missing.map((path) => ({ path, message: 'is required' })) };
      try {
        await signInWithPassword(email.trim(), password);
      } catch (err) {
        throw atField(err, 'password');
      }
      signedIn();
    },
  });
}

function showSignIn(reason) {
  fill(document.getElementById('nav'));
  fill(document.getElementById('who'));
  const first = tokenForm();
  fill(
    main(),
    h(
      'section',
      { class: 'signin' },
      h('h1', { tabindex: '-1' }, 'Sign in to Portico'),
      reason ? h('p', { class: 'notice', role: 'status' }, reason) : null,
      h('div', { class: 'signin-forms' }, first, passwordForm()),
      h(
        'p',
        { class: 'muted' },
        'Everything here calls the public admin API (/v1/admin); the API decides what your role may do.',
      ),
    ),
  );
  first.querySelector('input')?.focus();
}

onSignOut((reason) => showSignIn(reason));
window.addEventListener('hashchange', route);
route();
