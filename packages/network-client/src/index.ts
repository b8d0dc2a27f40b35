export { traceAttempts, traceCall } from './call-tracing';
export { ResumableStream } from './resumable-stream';
export { ServiceClient } from './service-client';
export { ServiceTokenSigner, type TokenSource } from './service-token-signer';
