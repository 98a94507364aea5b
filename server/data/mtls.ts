import type { FastifyRequest } from 'fastify';
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { ApiError } from '../errors';
import type { Gateway } from '../gateway';
import type { DataTlsSettings } from '../net/tls-settings';
import { clientBytes, inRanges } from '../policies/ip-ranges';
import { Gauge } from './metrics';

/** A verified client certificate, as the request presented it: over this port's TLS, or from a trusted proxy. */
export interface ClientCert {
  /** SHA-256 of the DER, lower-case hex without separators. */
  sha256: string;
  subject: string;
  source: 'tls' | 'header';
}

export const CLIENT_CERT = Symbol('portico.client-cert');

declare module 'fastify' {
  interface FastifyRequest {
    [CLIENT_CERT]?: ClientCert;
  }
}

type Outcome = { cert: ClientCert } | { missing: true } | { invalid: string };

/** What the client-certificate check found, per node since it started (the shape of `/admin/mtls/stats`). */
export class MtlsStats {
  total = 0;
  validated = 0;
  missing = 0;
  invalid = 0;
  /** Of the validated, those a trusted proxy passed in the header. */
  viaHeader = 0;

  count(outcome: Outcome): void {
    this.total++;
    if ('cert' in outcome) {
      this.validated++;
      if (outcome.cert.source === 'header') this.viaHeader++;
    } else if ('missing' in outcome) this.missing++;
    else this.invalid++;
  }
}

const fingerprint = (cert: X509Certificate) => cert.fingerprint256.replace(/:/g, '').toLowerCase();
const described = (cert: X509Certificate, source: ClientCert['source']): ClientCert => ({
  sha256: fingerprint(cert),
  subject: cert.subject.replace(/\n/g, ', '),
  source,
});

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_CHAIN = 5;

function current(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/** Whether `issuer` issued and signed `cert`. */
const issued = (cert: X509Certificate, issuer: X509Certificate) =>
  cert.checkIssued(issuer) && cert.verify(issuer.publicKey);

/**
 * Whether a header's chain (leaf first, then any intermediates) leads to one of the trusted CAs, every link in its
 * validity period; the same judgement node's TLS makes of a certificate sent on the connection.
 */
function chainsTo(chain: X509Certificate[], cas: X509Certificate[], now: number): boolean {
  let cert = chain[0]!;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (!current(cert, now)) return false;
    const root = cas.find((ca) => issued(cert, ca));
    if (root) return current(root, now);
    const next = chain.find((c) => c !== cert && c.ca && issued(cert, c));
    if (!next) return false;
    cert = next;
  }
  return false;
}

/** Removes a header from the request as every surface reads it: parsed, and raw (what the HTTP proxy forwards). */
function withoutHeader(request: FastifyRequest, name: string): void {
  delete request.headers[name];
  const raw = request.raw.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === name) raw.splice(i, 2);
}

/** Header values already judged, so a proxy's keep-alive traffic is not re-verified on every request. Bounded. */
const MAX_JUDGED = 1000;

/**
 * The client-certificate check of the data port, run on every request but probes and `/admin/*`: finds the request's
 * certificate (in the header when a trusted proxy sent one, else on the TLS connection), counts what it found and,
 * when client certificates are required, refuses a request without a verified one. The header is removed from every
 * request, so an upstream never sees one a client wrote.
 */
export class MtlsGate {
  readonly stats = new MtlsStats();
  /** Whether client certificates are looked at at all: a CA to verify them, or proxies that verify them. */
  readonly enabled: boolean;
  private readonly judgedHeaders = new Map<string, { outcome: Outcome; until: number }>();
  private readonly judgedSockets = new WeakMap<Socket, Outcome>();

  constructor(readonly settings: DataTlsSettings) {
    this.enabled = !!settings.clientCa || settings.trustedProxies.length > 0;
  }

  check(request: FastifyRequest): void {
    if (!this.enabled) return;
    const name = this.settings.certHeader;
    const header = request.headers[name];
    if (header !== undefined) withoutHeader(request, name);
    const socket = request.raw.socket;
    const outcome =
      header !== undefined && this.trusted(socket.remoteAddress) ? this.fromHeader(header) : this.fromTls(socket);
    this.stats.count(outcome);
    if ('cert' in outcome) request[CLIENT_CERT] = outcome.cert;
    else if (this.settings.requireClientCert) {
      throw 'missing' in outcome
        ? new ApiError('CLIENT_CERT_REQUIRED', 'A client certificate is required on this gateway')
        : new ApiError('CLIENT_CERT_INVALID', `The client certificate is not trusted (${outcome.invalid})`);
    }
  }

  private trusted(address: string | undefined): boolean {
    const ip = address ? clientBytes(address) : undefined;
    return !!ip && inRanges(ip, this.settings.trustedProxies);
  }

  private fromTls(socket: Socket): Outcome {
    const tls = socket as TLSSocket;
    if (typeof tls.getPeerX509Certificate !== 'function') return { missing: true };
    let outcome = this.judgedSockets.get(socket);
    if (!outcome) {
      const cert = tls.getPeerX509Certificate();
      if (!cert) outcome = { missing: true };
      else if (tls.authorized) outcome = { cert: described(cert, 'tls') };
      else outcome = { invalid: String(tls.authorizationError ?? 'not verified') };
      this.judgedSockets.set(socket, outcome);
    }
    return outcome;
  }

  private fromHeader(header: string | string[]): Outcome {
    if (Array.isArray(header)) return { invalid: 'several certificate headers' };
    const now = Date.now();
    let judged = this.judgedHeaders.get(header);
    // a judgement lasts until the certificate expires (a refusal, a minute: one not yet valid may become so)
    if (!judged || judged.until < now) {
      judged = this.judgeHeader(header, now);
      if (this.judgedHeaders.size >= MAX_JUDGED) this.judgedHeaders.clear();
      this.judgedHeaders.set(header, judged);
    }
    return judged.outcome;
  }

  /**
   * A URL-encoded PEM chain (nginx's `$ssl_client_escaped_cert`). The proxy verified it; with a CA bundle
   * configured it is verified again here, so a misconfigured proxy cannot let another CA's certificate in.
   */
  private judgeHeader(header: string, now: number): { outcome: Outcome; until: number } {
    const refused = (invalid: string) => ({ outcome: { invalid }, until: now + 60_000 });
    let chain: X509Certificate[];
    try {
      const blocks = decodeURIComponent(header).match(CERT_BLOCK) ?? [];
      chain = blocks.slice(0, MAX_CHAIN + 1).map((b) => new X509Certificate(b));
    } catch {
      return refused('unreadable certificate header');
    }
    if (chain.length === 0) return refused('no certificate in the header');
    const cas = this.settings.clientCa?.certs;
    if (cas && !chainsTo(chain, cas, now)) return refused('not issued by a trusted CA, or not valid now');
    const leaf = chain[0]!;
    return { outcome: { cert: described(leaf, 'header') }, until: Date.parse(leaf.validTo) };
  }
}

/** The gate of the data plane running for a gateway in this process: what `/admin/mtls/*` reports, on any port. */
const gates = new WeakMap<Gateway, MtlsGate>();

/** The data port's gate for `gw`, made from its settings and registered for the node admin API. */
export function openMtlsGate(gw: Gateway): MtlsGate {
  const gate = new MtlsGate(gw.config.dataTls);
  gates.set(gw, gate);
  return gate;
}

/** The gate of `gw`'s data plane in this process, if one was built (none on a control node). */
export const mtlsGateOf = (gw: Gateway): MtlsGate | undefined => gates.get(gw);

/** node's HTTPS options for the data port, or none (plain HTTP); client certificates are asked for, judged per request. */
export function dataPortHttps(settings: DataTlsSettings): { https?: HttpsServerOptions } {
  if (!settings.server) return {};
  const { cert, key } = settings.server;
  // the handshake accepts any client certificate (or none): refusing in the request, not the handshake, lets probes
  // through, counts what was refused and answers a reason instead of a reset connection
  const clients = settings.clientCa ? { ca: settings.clientCa.pem, requestCert: true, rejectUnauthorized: false } : {};
  return { https: { cert, key: key.reveal(), ...clients } };
}

/** `portico_mtls_requests_total{result,source}`: the same counts as `/admin/mtls/stats`, for Prometheus. */
export function mtlsGauge(gate: MtlsGate): Gauge {
  const help =
    'Data-plane requests by client-certificate check: validated (over TLS or from a trusted proxy), missing, invalid.';
  const s = gate.stats;
  return new Gauge(
    'portico_mtls_requests_total',
    help,
    ['result', 'source'],
    () =>
      gate.enabled
        ? [
            [['validated', 'tls'], s.validated - s.viaHeader],
            [['validated', 'header'], s.viaHeader],
            [['missing', ''], s.missing],
            [['invalid', ''], s.invalid],
          ]
        : [],
    'counter',
  );
}
