export { isolatedSchemaUrl, type TestDatabase, testDatabases } from './databases';
export { FakeClock, flush } from './fake-clock';
export {
  type Behaviour,
  type FakeModelServer,
  type RecordedRequest,
  startFakeModelServer,
} from './fake-model-server';
export { closedPortUrl, type MemoryApp, startMemory } from './memory-server';
export { capture, countingController, type Outcome, rejection } from './promise-probes';
export { type ProxiedPostgres, proxiedPostgres } from './proxied-postgres';
