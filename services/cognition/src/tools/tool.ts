import type { ServiceClient } from '@cortex/network-client';
import type { Tool } from '@cortex/service-kit';
import type { z } from 'zod';
import type { CognitionEnv } from '../env';

export interface CognitionContext {
  memory: ServiceClient;
  env: CognitionEnv;
}

export function defineTool<S extends z.ZodType>(tool: Tool<CognitionContext, S>): Tool<CognitionContext, S> {
  return tool;
}
