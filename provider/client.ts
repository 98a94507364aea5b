/** A problem the admin API reported, with the field paths it named. */
export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: { path: string; message: string }[] = []) {
    super(message);
  }
}

/** The provider's only way to the gateway: its admin REST API. */
export class AdminClient {
  constructor(private readonly endpoint: string, private readonly token: string) {}

  async request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(this.endpoint.replace(/\/+$/, '') + path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), 'user-agent': 'terraform-provider-portico' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      throw new ApiFailure(0, 'UNREACHABLE', `Cannot reach the Portico admin API at ${this.endpoint}: ${e.cause?.message ?? e.message}`);
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as any) : undefined;
    if (res.status >= 400 && !(method === 'GET' && res.status === 404) && !(method === 'DELETE' && res.status === 404)) {
      const error = parsed?.error ?? {};
      throw new ApiFailure(res.status, error.code ?? 'HTTP_ERROR', error.message ?? `HTTP ${res.status}`, error.details ?? []);
    }
    return { status: res.status, body: parsed as T };
  }
}
