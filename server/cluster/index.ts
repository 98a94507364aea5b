/** PORTICO_WORKERS > 1: the primary (control plane, counts) and its data-plane workers. */
export { startPrimary } from './primary';
export { isWorkerProcess, runWorker } from './worker';
