export { isolatedSchemaUrl, testDatabases } from './databases';
export { FakeClock, flush } from './fake-clock';
export {
  type Behaviour,
  type FakeModelServer,
  startFakeModelServer,
} from './fake-model-server';
export { gatewayHealthDetails, http, type JsonResponse, postDeclaringLength } from './http';
export {
  Impostor,
  type ImpostorFault,
  type SeenRequest,
} from './impostor';
export { closedPortUrl, type MemoryApp, startMemory } from './memory-server';
export { Metrics, memoryBreakerState } from './metrics';
export { OtlpReceiver, type ReceivedSpan } from './otlp-receiver';
export { freePort } from './ports';
export { capture, countingController, rejection } from './promise-probes';
export { type ProxiedPostgres, proxiedPostgres } from './proxied-postgres';
export {
  childEnv,
  type ServiceName,
  ServiceProcess,
  serviceLaunch,
  tsxLaunch,
} from './service-process';
export {
  type Callee,
  craftServiceToken,
  SERVICE_SECRETS,
  serviceAuth,
  serviceSecretsEnv,
  unsignedServiceToken,
} from './service-tokens';
export { signToken, TEST_SECRET, tokenFor, usersWithTokens } from './tokens';
