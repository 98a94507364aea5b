import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { makePluginCertificate } from '../provider/certificate';
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from '../provider/handshake';

const CLOCK_TICKS_PER_SECOND = 100; // Linux's USER_HZ, what /proc/<pid>/stat counts in

export interface StartSample {
  /** exec to the handshake line on stdout. */
  ms: number;
  /** CPU (user + system) the process had used by then; undefined off Linux. */
  cpuMs?: number;
  line: string;
}

/** CPU time a live process has used so far, from /proc (Linux). */
function cpuOf(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Execs the provider the way Terraform's go-plugin client does (protocol 6, the magic cookie, AutoMTLS with a client
 * certificate in PLUGIN_CLIENT_CERT), waits for the handshake line, runs `whileUp` (if given) and stops it with
 * SIGTERM.
 */
export async function startOnce(
  binary: string,
  clientCertPem: string,
  env: NodeJS.ProcessEnv = {},
  whileUp?: (sample: StartSample) => Promise<void>,
): Promise<StartSample> {
  const start = process.hrtime.bigint();
  const child = spawn(binary, [], {
    env: {
      ...process.env,
      PLUGIN_PROTOCOL_VERSIONS: '6',
      [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE,
      PLUGIN_CLIENT_CERT: clientCertPem,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  try {
    const sample = await new Promise<StartSample>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`provider exited (${code}) before the handshake: ${err}${out}`)));
      child.stdout.on('data', (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        resolve({ ms, cpuMs: cpuOf(child.pid!), line: out.slice(0, nl) });
      });
    });
    child.removeAllListeners('exit');
    await whileUp?.(sample);
    return sample;
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
}

export interface StartSummary {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  medianCpuMs?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Starts the provider `runs` times, one after the other, after one untimed warm-up start (disk cache). */
export async function providerStartBench(binary: string, runs = 20): Promise<StartSummary> {
  const client = await makePluginCertificate();
  await startOnce(binary, client.certPem);
  const samples: StartSample[] = [];
  for (let i = 0; i < runs; i++) samples.push(await startOnce(binary, client.certPem));
  const ms = samples.map((s) => s.ms);
  const cpu = samples.map((s) => s.cpuMs).filter((c): c is number => c !== undefined);
  return {
    runs,
    medianMs: median(ms),
    minMs: Math.min(...ms),
    maxMs: Math.max(...ms),
    medianCpuMs: cpu.length ? median(cpu) : undefined,
  };
}

/** `tsx bench/provider-start.ts <provider binary> [runs]`: prints the start-up summary as JSON. */
if (require.main === module) {
  const [binary, runs] = process.argv.slice(2);
  if (!binary) throw new Error('usage: tsx bench/provider-start.ts <provider binary> [runs]');
  providerStartBench(binary, Number(runs ?? 20)).then((s) => process.stdout.write(`${JSON.stringify(s)}\n`));
}
