import type { GroupCommitter, Tool } from '@cortex/service-kit';
import type { z } from 'zod';
import type { Database } from '../db/database';
import type { NewInput, StoreOutcome } from '../store/input-store';

export interface MemoryContext {
  db: Database;
  committer: GroupCommitter<NewInput, StoreOutcome>;
}

export function defineTool<S extends z.ZodType>(tool: Tool<MemoryContext, S>): Tool<MemoryContext, S> {
  return tool;
}
