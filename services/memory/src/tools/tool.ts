import type { GroupCommitter, Tool } from '@cortex/service-kit';
import type { z } from 'zod';
import type { Database } from '../db/database';
import type { NewInput, StoreOutcome } from '../store/input-store';
import type { SearchBounds } from '../store/search-store';

export interface MemoryContext {
  db: Database;
  committer: GroupCommitter<NewInput, StoreOutcome>;
  /** Cost bounds of `search_inputs`; the defaults when absent. */
  search?: SearchBounds;
}

export function defineTool<S extends z.ZodType>(tool: Tool<MemoryContext, S>): Tool<MemoryContext, S> {
  return tool;
}
