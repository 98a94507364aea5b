// @ts-check
// Writes the embedded database's starting image (a plain tar that PGlite's dumpDataDir made: directories and files,
// ustar headers) into a new data directory with Node's own file calls, so that PGlite then opens an existing
// database. PGlite's loadDataDir writes the same files through its WebAssembly file system, a good half second
// for the image's 40 MB; here each file's zero tail is not written but left to the file system (the 16 MB WAL
// segment is mostly zeros), and PG_VERSION, which tells a database is there, is written last: a start that stopped
// half way writes the image again. Plain JavaScript, run by the PGlite worker (pglite-worker.mjs).
import { closeSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const BLOCK = 512;
const PAGE = 8192;
const ZERO_PAGE = Buffer.alloc(PAGE);

/** A NUL-terminated text field of a tar header. */
const field = (header, from, to) => {
  const bytes = header.subarray(from, to);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
};

/** Where the contents stop being zeros, to the page: what is past it is left as a hole. */
function dataLength(contents) {
  let end = contents.length;
  while (end >= PAGE && contents.subarray(end - PAGE, end).equals(ZERO_PAGE)) end -= PAGE;
  return end;
}

/**
 * The files of a tar, in order: { path, dir, contents }. Throws on what the image never holds (links, long
 * names), rather than write something else than PGlite would.
 * @param {Buffer} tar
 */
export function* tarEntries(tar) {
  for (let at = 0; at + BLOCK <= tar.length;) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return;
    const name = [field(header, 345, 500), field(header, 0, 100)].filter(Boolean).join('/');
    const size = parseInt(field(header, 124, 136).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    if (type !== '0' && type !== '5') throw new Error(`unexpected tar entry of type ${type}: ${name}`);
    const path = name.replace(/^\/+/, '');
    if (path.split('/').includes('..')) throw new Error(`tar entry outside the data directory: ${name}`);
    at += BLOCK;
    yield { path, dir: type === '5', contents: tar.subarray(at, at + size) };
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
}

/** Whether `bytes` start as a ustar archive does (the magic at offset 257). @param {Buffer} bytes */
const isTar = (bytes) => bytes.length >= BLOCK && bytes.subarray(257, 262).toString('latin1') === 'ustar';

/**
 * Writes the image's files under `dir` (made if missing), PG_VERSION last. The image may be gzipped (dumpDataDir's
 * 'gzip'). Returns false, writing nothing, when it is no tar at all: PGlite's loadDataDir is left to make sense of it.
 * @param {Buffer} image
 * @param {string} dir
 */
export function writeImageFiles(image, dir) {
  const tar = image[0] === 0x1f && image[1] === 0x8b ? gunzipSync(image) : image;
  if (!isTar(tar)) return false;
  mkdirSync(dir, { recursive: true });
  /** @type {{ path: string, contents: Buffer } | undefined} */
  let version;
  for (const entry of tarEntries(tar)) {
    if (entry.dir) mkdirSync(join(dir, entry.path), { recursive: true });
    else if (entry.path === 'PG_VERSION') version = entry;
    else writeFile(join(dir, entry.path), entry.contents);
  }
  if (!version) throw new Error('the image holds no PG_VERSION: not a PostgreSQL data directory');
  writeFile(join(dir, version.path), version.contents);
  return true;
}

/** @param {string} path @param {Buffer} contents */
function writeFile(path, contents) {
  const fd = openSync(path, 'w', 0o600);
  try {
    const length = dataLength(contents);
    for (let done = 0; done < length;) done += writeSync(fd, contents, done, length - done);
    if (length < contents.length) ftruncateSync(fd, contents.length);
  } finally {
    closeSync(fd);
  }
}
