export { ResumableStream } from './resumable-stream';
export { ServiceClient } from './service-client';
export { ServiceTokenSigner, type TokenSource } from './service-token-signer';
