export { isolatedSchemaUrl, type TestDatabase, testDatabases } from './databases';
export { FakeClock, flush } from './fake-clock';
export {
  type Behaviour,
  type FakeModelServer,
  type RecordedRequest,
  startFakeModelServer,
} from './fake-model-server';
export { gatewayHealthDetails, http, type JsonResponse, postDeclaringLength } from './http';
export {
  Impostor,
  type ImpostorFault,
  kindOf,
  type RequestKind,
  type SeenRequest,
} from './impostor';
export { closedPortUrl, type MemoryApp, startMemory } from './memory-server';
export { Metrics, memoryBreakerState, parseMetrics, type Sample } from './metrics';
export { freePort } from './ports';
export { capture, countingController, type Outcome, rejection } from './promise-probes';
export { type ProxiedPostgres, proxiedPostgres } from './proxied-postgres';
export {
  childEnv,
  type Launch,
  type Readiness,
  type ServiceName,
  ServiceProcess,
  serviceLaunch,
  tsxLaunch,
} from './service-process';
export {
  type Callee,
  type Caller,
  type CraftedClaims,
  craftServiceToken,
  SERVICE_SECRETS,
  serviceAuth,
  serviceSecretsEnv,
  serviceToken,
  unsignedServiceToken,
  verifiedCaller,
} from './service-tokens';
export { signToken, TEST_SECRET, tokenFor, usersWithTokens } from './tokens';
