import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { packageRoot } from '../lib/package-root';

/** Where the console's static files live: `console/` at the repository root, shipped as they are (no build). */
export const CONSOLE_DIR = join(packageRoot(), 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The strictest policy the console works under: its own scripts and styles only (no inline code, no eval), calls to
 * this origin only, and no framing anywhere (CSP and X-Frame-Options for older browsers).
 */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache',
};

interface Asset {
  type: string;
  body: Buffer;
}

/** Every file under the folder, read once at start-up: only these are served, so no request path reaches the disk. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (TYPES[extname(entry.name)])
        assets.set(relative(dir, path).split(sep).join('/'), {
          type: TYPES[extname(entry.name)]!,
          body: readFileSync(path),
        });
    }
  };
  walk(dir);
  return assets;
}

const send = (reply: FastifyReply, asset: Asset) => reply.headers(CONSOLE_HEADERS).type(asset.type).send(asset.body);

/**
 * The web console: `GET /console/…` serves its files, `GET /` and `GET /console` lead there. It has no API of its
 * own: the page signs in with a token and calls `/v1/admin/*` like any other client.
 */
export const consoleRoutes = fp(
  async (app: FastifyInstance) => {
    const assets = loadAssets(CONSOLE_DIR);
    const index = assets.get('index.html');
    if (!index) throw new Error(`the console's index.html is missing from ${CONSOLE_DIR}`);
    app.get('/', async (_req, reply) => reply.redirect('/console/'));
    app.get('/console', async (_req, reply) => reply.redirect('/console/'));
    app.get('/console/', async (_req, reply) => send(reply, index));
    // the page's views live in the fragment (`/console/#/routes`), so any other path is simply not a file
    app.get<{ Params: { '*': string } }>('/console/*', async (req, reply) => {
      const asset = assets.get(req.params['*']);
      return asset ? send(reply, asset) : reply.callNotFound();
    });
  },
  { name: 'portico-console' },
);
