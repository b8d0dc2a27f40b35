import type { ServiceClient } from '@cortex/network-client';
import { storableString, type Tool } from '@cortex/service-kit';
import type { z } from 'zod';
import type { CognitionEnv } from '../env';
import type { ModelChain } from '../models/model-chain';

export interface CognitionContext {
  memory: ServiceClient;
  models: ModelChain;
  env: CognitionEnv;
}

export function defineTool<S extends z.ZodType>(tool: Tool<CognitionContext, S>): Tool<CognitionContext, S> {
  return tool;
}

/** Ids travel on to memory, which stores and matches them as PostgreSQL text. */
export const idArg = () => storableString().min(1).max(256);
