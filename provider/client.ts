import * as http from 'node:http';
import * as https from 'node:https';

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
  private agent: http.Agent | undefined;

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
    let res: { status: number; text: string; retryAfter: string | undefined };
    try {
      res = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    } catch (err) {
      const e = err as Error & { cause?: Error };
      throw new ApiFailure(
        0,
        'UNREACHABLE',
        `Cannot reach the Portico admin API at ${this.endpoint}: ${e.cause?.message ?? e.message}`,
      );
    }
    const parsed = res.text ? (JSON.parse(res.text) as any) : undefined;
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
      const retryAfter = Number(res.retryAfter);
      if (retryAfter > 0) failure.retryAfterMs = Math.min(retryAfter, 60) * 1000;
      throw failure;
    }
    return { status: res.status, body: parsed as T };
  }

  /**
   * One HTTP exchange with node:http(s) over kept-alive connections: lighter than fetch per call, and no undici to
   * load in each provider process (Terraform starts several per command).
   */
  private send(
    method: string,
    path: string,
    json: string | undefined,
    retried = false,
  ): Promise<{ status: number; text: string; retryAfter: string | undefined }> {
    const url = new URL(this.endpoint.replace(/\/+$/, '') + path);
    const secure = url.protocol === 'https:';
    this.agent ??= secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    const headers: Record<string, string | number> = {
      authorization: `Bearer ${this.token}`,
      'user-agent': 'terraform-provider-portico',
    };
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(json);
    }
    return new Promise<{ status: number; text: string; retryAfter: string | undefined }>((resolve, reject) => {
      const req = (secure ? https : http).request(
        url,
        { method, headers, agent: this.agent, timeout: 60_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              retryAfter: res.headers['retry-after'] as string | undefined,
            }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // a kept-alive connection the gateway closed while idle, just as this request went out: try a new one
        if (req.reusedSocket && err.code === 'ECONNRESET' && !retried)
          this.send(method, path, json, true).then(resolve, reject);
        else reject(err);
      });
      req.end(json);
    });
  }
}
