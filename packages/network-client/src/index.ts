export { type Instance, parseInstances } from './discovery';
export { expandDns, InstanceSet, type InstanceSetOptions } from './instance-set';
export { ResumableStream, type ResumableStreamOptions } from './resumable-stream';
export {
  type CallOptions,
  type ResourceOptions,
  ServiceClient,
  type ServiceClientOptions,
} from './service-client';
export { ServiceTokenSigner, type ServiceTokenSignerOptions, type TokenSource } from './service-token-signer';
export { readSse } from './sse-reader';
