/** A failure the CLI reports as one line (plus the server's field details, if any) and exit code 1. */
export class CliError extends Error {}

export interface AdminSettings {
  endpoint: string;
  token: string;
}

/** The admin API's address and token: flags first, then PORTICO_ENDPOINT / PORTICO_TOKEN. */
export function adminSettings(flags: Record<string, string | true>, env = process.env): AdminSettings {
  const endpoint = String(flags.endpoint ?? env.PORTICO_ENDPOINT ?? 'http://127.0.0.1:8090').replace(/\/+$/, '');
  const token = flags.token ?? env.PORTICO_TOKEN;
  if (typeof token !== 'string' || !token) throw new CliError('no admin token: set PORTICO_TOKEN (or pass --token)');
  if (!/^https?:\/\/[^/]+/.test(endpoint))
    throw new CliError(`PORTICO_ENDPOINT "${endpoint}" is not an http(s) URL such as http://127.0.0.1:8090`);
  return { endpoint, token };
}

/** Calls the admin API; every failure becomes a CliError that says what to do about it. */
export async function adminCall<T>(settings: AdminSettings, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${settings.endpoint}/v1/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${settings.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the admin API at ${settings.endpoint} (${why}): is the gateway running there?`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.ok) return parsed as T;
  if (res.status === 401)
    throw new CliError(`the admin API at ${settings.endpoint} refused the token (401): check PORTICO_TOKEN`);
  const error = (parsed as { error?: { message?: string; details?: { path: string; message: string }[] } })?.error;
  const details = (error?.details ?? []).map((d) => `\n  ${d.path || '(document)'}: ${d.message}`).join('');
  throw new CliError(`${error?.message ?? `the admin API answered ${res.status}`}${details}`);
}
