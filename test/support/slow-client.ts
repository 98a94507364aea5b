import { connect } from 'node:net';

/**
 * Raw bytes on a socket to `port` on loopback: `head` at once, then `drip` every 100 ms until the server answers and
 * closes. Resolves with everything the server sent; fails if the connection is still open after `boundMs`.
 */
export function slowClient(port: number, head: string, drip: string, boundMs = 5000): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setInterval(() => socket.writable && socket.write(drip), 100);
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after ${boundMs} ms`));
    }, boundMs);
    socket.on('data', (c) => (received += c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(bound);
      resolve(received);
    });
    socket.write(head);
  });
}
