export { codeForOwnStatus, ERROR_CODES, type ErrorCode, isErrorCode, statusOf } from './codes';
export { type CodedError, CortexError, type CortexErrorOptions, hasCode } from './cortex-error';
export {
  errorBodySchema,
  fromErrorBody,
  inBandError,
  toErrorBody,
} from './error-body';
export { DEADLINE_HEADER } from './wire-headers';
