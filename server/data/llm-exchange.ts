import { ApiError } from '../errors';
import type { DataPlane, Traffic } from './data-plane';
import type { StreamSink } from './sse-relay';
import { answered, unanswered, UpstreamHandler, type UpstreamCall } from './upstream';

/** Makes the sink of a streamed answer once its head has come (status, raw header pairs). */
export type SinkFactory = (status: number, headers: Buffer[]) => StreamSink;

/**
 * One call to an LLM provider, as undici's dispatch handler: no response object, no body stream. A streamed call's
 * 2xx/3xx answer goes to its sink chunk by chunk as it comes (the circuit closes at its head); any other answer is
 * read whole (a few hundred bytes) and judged by the caller (`answered`, `unusableAnswer`). `done` settles once the
 * answer is complete: with the call for the caller to read (`status`, `headers`, `body`), or with the error to
 * answer with (`unanswered`, or a guardrail's refusal of a stream nothing of was sent).
 */
export class LlmExchange extends UpstreamHandler {
  status = 0;
  headers: Buffer[] = [];
  /** Whether the answer went to the stream's sink (then the client has had it). */
  streamed = false;
  readonly done: Promise<this>;
  private settle!: (exchange: this) => void;
  private fail!: (err: unknown) => void;
  private chunks: Buffer[] = [];
  private sink?: StreamSink;
  private resume?: () => void;
  private refusal?: ApiError;

  constructor(
    dp: DataPlane,
    traffic: Traffic,
    call: UpstreamCall,
    private readonly toSink?: SinkFactory,
  ) {
    super(dp, traffic, call);
    this.done = new Promise<this>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
  }

  /** The answer's bytes, as the upstream sent them (when it was read whole). */
  body(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // informational: the final answer follows
    this.status = status;
    this.headers = raw;
    this.resume = resume;
    // a stream's answer is judged at its head, a 5xx at once (it may fail over), others once read (by the caller)
    if (this.toSink || status >= 500) answered(this.dp, this.traffic, this.call, status);
    if (this.toSink && status < 400) {
      this.streamed = true;
      this.sink = this.toSink(status, raw);
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.sink) {
      this.chunks.push(chunk);
      return true;
    }
    if (this.refusal) return true; // stopped: the abort is on its way
    try {
      return this.sink.push(chunk, this.resume!);
    } catch (err) {
      // a blocking guardrail (or a broken event): the upstream is stopped and the stream ended as it stands
      this.refusal = err instanceof ApiError ? err : new ApiError('UPSTREAM_ERROR', 'The answer could not be relayed');
      this.stop();
      return true;
    }
  }

  onComplete(): void {
    if (this.sink) this.end(false);
    else this.settle(this);
  }

  onError(err: Error): void {
    if (this.sink) this.end(true);
    else this.fail(unanswered(this.dp, this.traffic, this.call, this.traffic.left, err));
  }

  private end(broken: boolean): void {
    try {
      if (this.refusal?.code === 'POLICY_DENIED' && this.sink!.refuse) this.sink!.refuse(this.refusal);
      else this.sink!.finish(broken || this.refusal !== undefined);
      this.settle(this);
    } catch (err) {
      this.fail(err);
    }
  }
}
