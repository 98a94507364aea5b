import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level } from 'pino';

type Log = (obj: unknown, msg?: string, ...args: unknown[]) => void;

/** Whether `log` writes at `level` (pino knows; a logger that cannot say is taken to write everything). */
export const levelEnabled = (log: FastifyBaseLogger, level: Level): boolean =>
  (log as FastifyBaseLogger & { isLevelEnabled?: (l: string) => boolean }).isLevelEnabled?.(level) ?? true;

/**
 * A request's logger that becomes a pino child (with the request id bound) only when something is logged through
 * it at an enabled level. Most data-plane requests log nothing but their completion line, which the parent logger
 * writes with `reqId` itself; a child made for every request would cost more than that line.
 */
export class LazyChildLogger {
  private made?: FastifyBaseLogger;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: Parameters<Log>): void {
    this.log('fatal', args);
  }
  error(...args: Parameters<Log>): void {
    this.log('error', args);
  }
  warn(...args: Parameters<Log>): void {
    this.log('warn', args);
  }
  info(...args: Parameters<Log>): void {
    this.log('info', args);
  }
  debug(...args: Parameters<Log>): void {
    this.log('debug', args);
  }
  trace(...args: Parameters<Log>): void {
    this.log('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }

  private real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  private log(level: Level, args: Parameters<Log>): void {
    if (!levelEnabled(this.made ?? this.parent, level)) return;
    (this.real()[level] as Log)(...args);
  }
}
