/**
 * The few ASN.1 DER encodings a self-signed X.509 certificate needs. Each helper returns one complete element (tag,
 * length, contents), so a certificate is written as nested calls in the order of its ASN.1 definition.
 */

/** One element: a tag byte, the definite length (short form below 128, long form above), the contents. */
export function element(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  if (n < 0x80) return Buffer.concat([Buffer.from([tag, n]), body]);
  const lengthBytes: number[] = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest % 256);
  return Buffer.concat([Buffer.from([tag, 0x80 | lengthBytes.length, ...lengthBytes]), body]);
}

export const sequence = (...items: Buffer[]) => element(0x30, ...items);
export const set = (...items: Buffer[]) => element(0x31, ...items);
export const boolean = (value: boolean) => element(0x01, Buffer.from([value ? 0xff : 0x00]));
export const octetString = (bytes: Buffer) => element(0x04, bytes);
export const utf8String = (text: string) => element(0x0c, Buffer.from(text, 'utf8'));
/** `[n] EXPLICIT`: a constructed context-specific wrapper around complete elements. */
export const explicit = (n: number, ...items: Buffer[]) => element(0xa0 | n, ...items);
/** `[n] IMPLICIT` of a primitive type: the contents keep their bytes, the tag becomes context-specific. */
export const implicitPrimitive = (n: number, bytes: Buffer) => element(0x80 | n, bytes);

/**
 * A non-negative INTEGER from its big-endian magnitude: leading zero bytes dropped (DER wants the shortest form, and
 * Go's parser rejects longer ones), one zero byte added when the top bit would read as a sign.
 */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  return element(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}
export const smallInteger = (n: number) => unsignedInteger(Buffer.from([n]));

/** A BIT STRING of whole bytes (a signature, a key). */
export const bitString = (bytes: Buffer, unusedBits = 0) => element(0x03, Buffer.from([unusedBits]), bytes);

/** An OBJECT IDENTIFIER from its dotted form: the first two arcs in one byte, then base-128 with continuation bits. */
export function objectId(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes = [arcs[0]! * 40 + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const groups = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128))
      groups.unshift((rest & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return element(0x06, Buffer.from(bytes));
}

/** X.509's Time: UTCTime for the years 1950–2049, GeneralizedTime otherwise (RFC 5280, 4.1.2.5). */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-12-03T07:04:56.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20261203070456
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? element(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
    : element(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}
