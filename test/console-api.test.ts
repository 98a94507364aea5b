import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONSOLE_DIR } from '../server/console/console-routes';
import { testDialects } from './support/databases';
import { startTestGateway, type TestGateway } from './support/gateway';

/** Every file under the console's folder, as the path it is served at. */
const consoleFiles = (dir = CONSOLE_DIR, base = ''): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? consoleFiles(join(dir, e.name), `${base}${e.name}/`) : [`${base}${e.name}`],
  );

describe.each(testDialects())('what the console relies on: whoami, the import hash, its files (%s)', (dialect) => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway(dialect);
    expect((await t.api('POST', '/v1/admin/tenants', { id: 'acme', name: 'Acme' })).status).toBe(201);
  });
  afterAll(() => t?.close());

  test('GET /whoami names the caller, its role, tenant and permissions; without a token it is a 401', async () => {
    const owner = await t.api('GET', '/v1/admin/whoami');
    expect(owner.status).toBe(200);
    expect(owner.body).toMatchObject({ type: 'token', id: 'bootstrap', role: 'owner', tenant_id: null });
    expect(owner.body.permissions).toMatchObject({ tenants: 'write', config: 'write', audit: 'read' });

    const made = await t.api('POST', '/v1/admin/tokens', { name: 'ro', role: 'viewer', tenant_id: 'acme' });
    expect(made.status).toBe(201);
    const viewer = await t.api('GET', '/v1/admin/whoami', undefined, made.body.token);
    expect(viewer.body).toMatchObject({ id: made.body.id, name: 'ro', role: 'viewer', tenant_id: 'acme' });
    expect(viewer.body.permissions).toMatchObject({ tenants: 'read', keys: 'read', config: 'none' });

    expect((await t.api('GET', '/v1/admin/whoami', undefined, null)).status).toBe(401);
    expect((await t.api('GET', '/v1/admin/whoami', undefined, 'ptc_pat_nope')).body.error.code).toBe('UNAUTHORIZED');
  });

  test('an import applies only with the content_hash of a preview of that very document and state', async () => {
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    const renamed = { ...doc, tenants: [{ ...doc.tenants[0], name: 'Acme Previewed' }] };
    const preview = await t.api('POST', '/v1/admin/config/import?dry_run=true', renamed);
    expect(preview.status).toBe(200);
    expect(preview.body.content_hash).toMatch(/^[0-9a-f]{64}$/);
    const hash = preview.body.content_hash;
    // the same preview again is the same hash; another mode is another plan
    expect((await t.api('POST', '/v1/admin/config/import?dry_run=true', renamed)).body.content_hash).toBe(hash);
    const replaceHash = (await t.api('POST', '/v1/admin/config/import?dry_run=true&mode=replace', renamed)).body;
    expect(replaceHash.content_hash).not.toBe(hash);

    // a document changed after the preview is refused, and nothing is written
    const tampered = { ...doc, tenants: [{ ...doc.tenants[0], name: 'Acme Tampered' }] };
    const refused = await t.api('POST', `/v1/admin/config/import?content_hash=${hash}`, tampered);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'CONFLICT', details: [{ path: 'content_hash' }] });
    expect((await t.api('GET', '/v1/admin/tenants/acme')).body.name).toBe('Acme');
    // so is the previewed document in another mode than the preview's
    expect((await t.api('POST', `/v1/admin/config/import?mode=replace&content_hash=${hash}`, renamed)).status).toBe(
      409,
    );

    const applied = await t.api('POST', `/v1/admin/config/import?content_hash=${hash}`, renamed);
    expect(applied.status).toBe(200);
    expect(applied.body.updated).toEqual([{ kind: 'tenant', id: 'acme' }]);
    expect((await t.api('GET', '/v1/admin/tenants/acme')).body.name).toBe('Acme Previewed');
    const event = await t.api('GET', '/v1/admin/audit/events?type=CONFIG_IMPORTED');
    expect(event.body.data[0].id).toBe(applied.body.audit_event_id);
  });

  test('a configuration changed by someone else between preview and apply is refused', async () => {
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    const renamed = { ...doc, tenants: [{ ...doc.tenants[0], name: 'Acme Mine' }] };
    const hash = (await t.api('POST', '/v1/admin/config/import?dry_run=true', renamed)).body.content_hash;
    expect((await t.api('PUT', '/v1/admin/tenants/acme', { name: 'Acme Theirs' })).status).toBe(200);
    const refused = await t.api('POST', `/v1/admin/config/import?content_hash=${hash}`, renamed);
    expect(refused.status).toBe(409);
    expect((await t.api('GET', '/v1/admin/tenants/acme')).body.name).toBe('Acme Theirs');
  });

  test('a content_hash that is not a hash is a 400 at the field', async () => {
    const doc = (await t.api('GET', '/v1/admin/config/export')).body;
    const res = await t.api('POST', '/v1/admin/config/import?content_hash=abc', doc);
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('content_hash');
  });

  test('/ leads to /console/, which is served under a strict CSP that forbids framing', async () => {
    const root = await t.admin.inject({ url: '/' });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('/console/');
    expect((await t.admin.inject({ url: '/console' })).headers.location).toBe('/console/');
    const page = await t.admin.inject({ url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect((await t.admin.inject({ url: '/console/js/nothing-here.js' })).statusCode).toBe(404);
    expect((await t.admin.inject({ url: '/console/../package.json' })).statusCode).not.toBe(200);
  });

  test('every console file is served with its type, and none holds inline script, inline style or innerHTML', async () => {
    const files = consoleFiles();
    expect(files).toEqual(expect.arrayContaining(['index.html', 'console.css', 'js/app.js']));
    for (const file of files) {
      const res = await t.admin.inject({ url: `/console/${file}` });
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe(readFileSync(join(CONSOLE_DIR, file), 'utf8'));
      if (file.endsWith('.js')) {
        expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
        expect(res.body).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function/);
      }
      if (file.endsWith('.html')) {
        expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is a file
        expect(res.body).not.toMatch(/\sstyle=|<style|\son[a-z]+=/); // no inline style or handler
      }
    }
    // the console needs no token to load; the API behind it does
    expect((await t.admin.inject({ url: '/v1/admin/tenants' })).statusCode).toBe(401);
  });
});
