import { storableObject, storableString } from '@cortex/service-kit';
import { z } from 'zod';

export const userId = storableString().min(1).max(256);
export const itemId = storableString().min(1).max(256);

export const inputData = z.object({
  id: itemId.optional(),
  content: storableString().min(1).max(1_000_000),
  conversation_id: storableString().max(256).nullish(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  metadata: storableObject().nullish(),
});
