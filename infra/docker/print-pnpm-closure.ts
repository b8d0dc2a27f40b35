// Used by the Dockerfiles' deps stage: `node --import tsx infra/docker/print-pnpm-closure.ts
// node_modules tsx` prints one path per line, ready for `tar -T -`.
import { pnpmClosure } from './pnpm-closure';

const [nodeModules, name] = process.argv.slice(2);
if (!nodeModules || !name) {
  console.error('usage: print-pnpm-closure.ts <node_modules dir> <package>');
  process.exit(2);
}
process.stdout.write(`${pnpmClosure(nodeModules, name).join('\n')}\n`);
