import {
  errorResponses,
  errorSchemas,
  jsonContent,
  mcpPaths,
  type OpenApiDocument,
  openApiPath,
  operationsPaths,
  parametersOf,
  schemaOf,
  sseContent,
} from '@cortex/service-kit';
import { storedInput } from '../ingest/input-data';
import { loginBody } from '../routes/auth';
import { analysisParams, analysisQuery, searchQuery } from '../routes/cognition';
import { inputBody } from '../routes/input';
import { contextQuery, historyQuery } from '../routes/reading';

/**
 * The gateway's public API (contract: "Gateway HTTP API") as OpenAPI 3.1. Request bodies and
 * parameters come from the zod schemas the routes parse with; the answers are described here.
 * A test checks that it names every route the app registers, and only those.
 */

const USER = [{ userToken: [] }];
const OPEN: never[] = [];

const AUTH_ERRORS = {
  401: 'No valid user token (`unauthorized`)',
  429: 'Over the rate limit (`rate_limited`); `Retry-After` says when to come back',
};
const BAD_REQUEST = { 400: 'A parameter or the body is not valid (`invalid_request`)' };
const UPSTREAM = {
  502: 'A dependency answered something malformed (`data_error`)',
  503: 'A dependency is away (`service_unavailable`, `circuit_open`); `Retry-After` when known',
  504: 'A dependency took too long (`timeout`)',
};

const inputData = {
  type: 'object',
  properties: {
    content: { type: 'string' },
    conversation_id: { type: ['string', 'null'] },
    timestamp: { type: 'string', format: 'date-time' },
    metadata: { type: 'object' },
  },
  required: ['content', 'conversation_id', 'timestamp', 'metadata'],
};
const token = {
  type: 'object',
  properties: {
    access_token: { type: 'string' },
    token_type: { const: 'bearer' },
    user_id: { type: 'string' },
  },
  required: ['access_token', 'token_type', 'user_id'],
};
/** What cognition answers, passed through after the gateway checked it is the user's. */
const cognitionAnswer = {
  type: 'object',
  description: 'The cognition tool\'s result (contract: "Service wire format")',
};
const html = { 'text/html': { schema: { type: 'string' } } };

export function gatewayDocument(): OpenApiDocument {
  const login = schemaOf(loginBody);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cortex Core gateway',
      version: '0.1.0',
      description:
        'The public HTTP API (contract: "Gateway HTTP API"). Errors: every 4xx and 5xx carries the error body (`Error`); docs/errors.md lists the codes. This document: /openapi.json; browsable at /docs.',
    },
    security: USER,
    tags: [
      { name: 'auth', description: 'Tokens for configured local users' },
      { name: 'input', description: "Writing a user's input" },
      { name: 'reading', description: "Reading a user's inputs back, and cognition's views of them" },
      { name: 'stream', description: "The user's events as Server-Sent Events" },
      { name: 'mcp', description: 'The same operations over the Model Context Protocol' },
      { name: 'console', description: 'The browser console' },
      { name: 'operations', description: 'Health, metrics and this document' },
    ],
    paths: {
      '/auth/login': {
        post: {
          operationId: 'login',
          summary: 'A token for a configured user (JSON or form)',
          tags: ['auth'],
          security: OPEN,
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: login },
              'application/x-www-form-urlencoded': { schema: login },
            },
          },
          responses: {
            200: { description: 'Signed in', content: jsonContent(token) },
            ...errorResponses({
              ...BAD_REQUEST,
              401: 'Unknown user or wrong password (`unauthorized`)',
              429: AUTH_ERRORS[429],
            }),
          },
        },
      },
      '/auth/refresh': {
        post: {
          operationId: 'refresh',
          summary: 'A fresh token for a still-valid one, within the session limit',
          tags: ['auth'],
          responses: {
            200: { description: 'A fresh token', content: jsonContent(token) },
            ...errorResponses(AUTH_ERRORS),
          },
        },
      },
      '/input': {
        post: {
          operationId: 'postInput',
          summary: 'Store an input (or hold it durably while memory is away)',
          tags: ['input'],
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              description: 'A retry with the same key and user is stored once and answers the same `item_id`',
              schema: { type: 'string', minLength: 1, maxLength: 256 },
            },
          ],
          requestBody: { required: true, content: jsonContent(schemaOf(inputBody)) },
          responses: {
            200: {
              description:
                '`received`: stored; `received_storage_pending`: held by the gateway, stored later; `received_not_stored`: resend',
              content: jsonContent({
                type: 'object',
                properties: {
                  status: { enum: ['received', 'received_storage_pending', 'received_not_stored'] },
                  item_id: { type: 'string' },
                  data: inputData,
                },
                required: ['status', 'item_id', 'data'],
              }),
            },
            ...errorResponses({
              ...BAD_REQUEST,
              ...AUTH_ERRORS,
              409: 'The Idempotency-Key was used before with another input (`conflict`)',
              413: 'The body is over 1 MiB (`payload_too_large`)',
              415: 'The body is not JSON or a form (`unsupported_media_type`)',
            }),
          },
        },
      },
      '/output/stream': {
        get: {
          operationId: 'stream',
          summary: "The user's events: connection_established, input, task_failed, heartbeat, error",
          tags: ['stream'],
          description:
            'Browsers cannot set headers on EventSource: the token may come as `token`. Resume with `Last-Event-ID` (header) or `last_event_id`.',
          parameters: [
            {
              name: 'token',
              in: 'query',
              required: false,
              description: 'The user token, for EventSource',
              schema: { type: 'string' },
            },
            {
              name: 'last_event_id',
              in: 'query',
              required: false,
              schema: { type: 'string', pattern: '^\\d{1,15}$' },
            },
            {
              name: 'Last-Event-ID',
              in: 'header',
              required: false,
              schema: { type: 'string', pattern: '^\\d{1,15}$' },
            },
          ],
          responses: {
            200: {
              description: 'Server-Sent Events, each one `data:` line of JSON, with an `id:` where resumable',
              content: sseContent(
                { type: 'object', required: ['type'], properties: { type: { type: 'string' } } },
                'data: lines',
              ),
            },
            ...errorResponses({
              ...BAD_REQUEST,
              401: AUTH_ERRORS[401],
              429: 'Too many open streams, for the user or the gateway (`too_many_connections`), or over the rate limit',
            }),
          },
        },
      },
      '/history': {
        get: {
          operationId: 'history',
          summary: "The user's stored inputs, newest first",
          tags: ['reading'],
          parameters: parametersOf(historyQuery, 'query'),
          responses: {
            200: {
              description:
                'The items (`fallback: true` when memory was away and only the recent ones the gateway keeps are shown)',
              content: jsonContent({
                type: 'object',
                properties: {
                  items: { type: 'array', items: schemaOf(storedInput, 'output') },
                  count: { type: 'integer' },
                  fallback: { type: 'boolean' },
                },
                required: ['items', 'count'],
              }),
            },
            ...errorResponses({ ...BAD_REQUEST, ...AUTH_ERRORS, ...UPSTREAM }),
          },
        },
      },
      '/context': {
        get: {
          operationId: 'context',
          summary: "Cognition's get_context for the user",
          tags: ['reading'],
          parameters: parametersOf(contextQuery, 'query'),
          responses: {
            200: { description: 'The context', content: jsonContent(cognitionAnswer) },
            ...errorResponses({ ...BAD_REQUEST, ...AUTH_ERRORS, ...UPSTREAM }),
          },
        },
      },
      '/analysis/{conversation_id}': {
        get: {
          operationId: 'analysis',
          summary: "Cognition's analyze_conversation of one of the user's conversations",
          tags: ['reading'],
          parameters: [...parametersOf(analysisParams, 'path'), ...parametersOf(analysisQuery, 'query')],
          responses: {
            200: { description: 'The analysis', content: jsonContent(cognitionAnswer) },
            ...errorResponses({ ...BAD_REQUEST, ...AUTH_ERRORS, ...UPSTREAM }),
          },
        },
      },
      '/search': {
        get: {
          operationId: 'search',
          summary: "Cognition's search_history over the user's inputs",
          tags: ['reading'],
          parameters: parametersOf(searchQuery, 'query'),
          responses: {
            200: { description: 'The results', content: jsonContent(cognitionAnswer) },
            ...errorResponses({ ...BAD_REQUEST, ...AUTH_ERRORS, ...UPSTREAM }),
          },
        },
      },
      '/dashboard': {
        get: {
          operationId: 'dashboard',
          summary:
            'Profile, recent history and context at once; a section whose dependency failed is empty and named in `errors`',
          tags: ['reading'],
          responses: {
            200: { description: 'The dashboard', content: jsonContent({ type: 'object' }) },
            ...errorResponses(AUTH_ERRORS),
          },
        },
      },
      ...mcpPaths('a user token, each tool call charged like the REST route it is'),
      '/': {
        get: {
          operationId: 'console',
          summary: 'The browser console (HTML)',
          tags: ['console'],
          security: OPEN,
          responses: { 200: { description: 'The page', content: html } },
        },
      },
      '/console/{file}': {
        get: {
          operationId: 'consoleAsset',
          summary: "The console's script and stylesheet",
          tags: ['console'],
          security: OPEN,
          parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            200: { description: 'The file' },
            ...errorResponses({ 404: 'No such file (`not_found`)' }),
          },
        },
      },
      ...operationsPaths(),
      '/health/details': {
        get: {
          operationId: 'healthDetails',
          summary: 'Health with circuit states, instances and queue sizes (signed-in users)',
          tags: ['operations'],
          responses: {
            200: {
              description: '`healthy` or `warning`',
              content: jsonContent({ type: 'object', required: ['status'] }),
            },
            503: {
              description: '`unhealthy`',
              content: jsonContent({ type: 'object', required: ['status'] }),
            },
            ...errorResponses(AUTH_ERRORS),
          },
        },
      },
      '/openapi.json': openApiPath('This document', true),
      '/docs': {
        get: {
          operationId: 'docs',
          summary: 'This document, browsable (served by the gateway, works offline)',
          tags: ['operations'],
          security: OPEN,
          responses: { 200: { description: 'The page', content: html } },
        },
      },
    },
    components: {
      schemas: errorSchemas(),
      securitySchemes: {
        userToken: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'A user token (HS256, `JWT_SECRET`), e.g. from POST /auth/login',
        },
      },
    },
  };
}
