// Worker-thread side of test/workload-lazy.test.ts: rebuilds a source from its spec and posts item(i).
import { parentPort, workerData } from 'node:worker_threads';
import { sourceFromSpec, type WorkloadSpec } from '../../io/workload-file.ts';

const { spec, index } = workerData as { spec: WorkloadSpec; index: number };
const source = sourceFromSpec(spec);
parentPort!.postMessage({ length: source.length, item: source.item(index), timestamp: source.timestamps?.[index] ?? null });
