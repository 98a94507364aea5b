import type { TestGateway } from './gateway';

/** A request to the tenant portal `/api/*` through inject, with a portal JWT when given. */
export async function portal(
  t: TestGateway,
  method: string,
  url: string,
  body?: unknown,
  token?: string,
  remoteAddress?: string,
): Promise<{ status: number; body: any; headers: Record<string, unknown>; text: string }> {
  const res = await t.admin.inject({
    method: method as never,
    url,
    remoteAddress,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  let parsed: unknown;
  try {
    parsed = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, body: parsed, headers: res.headers, text: res.body };
}

export const PASSWORD = 'a long enough passphrase 42';

/** Signs a new team up; returns what register answered. */
export async function signUp(
  t: TestGateway,
  email: string,
  name = 'Team',
): Promise<{ token: string; tenantId: string; gatewayApiKey: string }> {
  const res = await portal(t, 'POST', '/api/auth/register', { name, email, password: PASSWORD });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${res.text}`);
  return res.body;
}

export interface CapturedMail {
  to: string;
  raw: string;
}

/** The text of a mail as sent, quoted-printable soft line breaks undone. */
export const mailText = (raw: string) => raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');

/**
 * A local SMTP server (the `smtp-server` package) that accepts every message and keeps it: what the portal's SMTP
 * sender really sends, over a real socket.
 */
export async function startSmtpCatcher(): Promise<{ url: string; mails: CapturedMail[]; close(): Promise<void> }> {
  const moduleName = 'smtp-server';
  const { SMTPServer } = (await import(moduleName)) as { SMTPServer: new (options: object) => any };
  const mails: CapturedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream: NodeJS.ReadableStream, session: any, done: (err?: Error) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r: { address: string }) => r.address).join(',');
        mails.push({ to, raw: Buffer.concat(chunks).toString('utf8') });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
