import type { ServicePermission } from '@cortex/service-kit';

/**
 * Who may use what on memory (contract: "Service wire format"). The gateway stores and reads for
 * its users, and alone follows the all-users `events` feed. Cognition only reads one user's
 * history, conversations and messages (and searches it: `search_inputs`), and records the tasks it could not complete: a
 * compromised cognition can neither forge nor alter anyone's inputs, nor watch every user.
 */
export const memoryPermissions = {
  gateway: 'all',
  cognition: {
    tools: ['get_message', 'search_inputs', 'record_failed_task'],
    routes: ['/resource/history/:user_id', '/resource/conversation/:id'],
  },
} as const satisfies Record<string, ServicePermission>;
