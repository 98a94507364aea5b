/** A problem the admin API reported, with the field paths it named. */
export class ApiFailure extends Error {
  /** From a 429's `Retry-After`. */
  retryAfterMs?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** How often a call the admin API rate-limited (429) is tried again, after its `Retry-After`. */
const RATE_LIMIT_RETRIES = 8;

/** The provider's only way to the gateway: its admin REST API. */
export class AdminClient {
  constructor(
    private readonly endpoint: string,
    private readonly token: string,
  ) {}

  /** One call; a 429 is waited out (a large plan can meet the per-caller rate limit) and tried again. */
  async request<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, body);
      } catch (err) {
        if (!(err instanceof ApiFailure) || err.status !== 429 || attempt > RATE_LIMIT_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, err.retryAfterMs ?? 1000));
      }
    }
  }

  private async once<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(this.endpoint.replace(/\/+$/, '') + path, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          'user-agent': 'terraform-provider-portico',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      throw new ApiFailure(
        0,
        'UNREACHABLE',
        `Cannot reach the Portico admin API at ${this.endpoint}: ${e.cause?.message ?? e.message}`,
      );
    }
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as any) : undefined;
    if (
      res.status >= 400 &&
      !(method === 'GET' && res.status === 404) &&
      !(method === 'DELETE' && res.status === 404)
    ) {
      const error = parsed?.error ?? {};
      const failure = new ApiFailure(
        res.status,
        error.code ?? 'HTTP_ERROR',
        error.message ?? `HTTP ${res.status}`,
        error.details ?? [],
      );
      const retryAfter = Number(res.headers.get('retry-after'));
      if (retryAfter > 0) failure.retryAfterMs = Math.min(retryAfter, 60) * 1000;
      throw failure;
    }
    return { status: res.status, body: parsed as T };
  }
}
