export { codeForOwnStatus, ERROR_CODES, type ErrorCode, isErrorCode, statusOf } from './codes';
export { type CodedError, CortexError, type CortexErrorOptions, hasCode } from './cortex-error';
export {
  type ErrorBody,
  type ErrorBodyInput,
  errorBodySchema,
  fromErrorBody,
  inBandError,
  toErrorBody,
} from './error-body';
export { DEADLINE_HEADER } from './wire-headers';
