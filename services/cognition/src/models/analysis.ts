import { z } from 'zod';

export const analysisTypes = ['summary', 'topics', 'sentiment'] as const;
export type AnalysisType = (typeof analysisTypes)[number];

export interface ConversationMessage {
  content: string;
  timestamp: string;
}

export interface AnalysisTask {
  type: AnalysisType;
  /** Oldest first. */
  messages: ConversationMessage[];
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * The result shapes every backend must produce, remote or local. A remote answer is parsed with
 * these; extra fields are dropped and lists are capped, so a verbose model still fits the contract.
 */
export const resultSchemas = {
  summary: z.object({
    summary: z.string().trim(),
    key_points: z
      .array(z.string().trim().min(1))
      .default([])
      .transform((l) => l.slice(0, 10)),
  }),
  topics: z.object({
    topics: z
      .array(
        z.object({
          topic: z.string().trim().min(1).max(100),
          weight: z.number().min(0).max(1).transform(round),
        }),
      )
      .transform((l) => l.slice(0, 10)),
  }),
  sentiment: z.object({
    label: z.enum(['positive', 'negative', 'neutral']),
    score: z.number().min(-1).max(1).transform(round),
  }),
} as const;

export type SummaryResult = z.output<typeof resultSchemas.summary>;
export type TopicsResult = z.output<typeof resultSchemas.topics>;
export type SentimentResult = z.output<typeof resultSchemas.sentiment>;
export type AnalysisResult = SummaryResult | TopicsResult | SentimentResult;

/** What a remote model is asked to answer with, per type (the same shapes as above). */
export const resultInstructions: Record<AnalysisType, string> = {
  summary:
    'Summarise the conversation in at most three sentences. Answer with only a JSON object: ' +
    '{"summary": string, "key_points": string[] (at most 5)}.',
  topics:
    'List the main topics of the conversation, most important first. Answer with only a JSON object: ' +
    '{"topics": [{"topic": string (one to three words), "weight": number between 0 and 1}] (at most 5)}.',
  sentiment:
    'Judge the overall sentiment of the conversation. Answer with only a JSON object: ' +
    '{"label": "positive" | "negative" | "neutral", "score": number from -1 (negative) to 1 (positive)}.',
};

/** A backend: something that can perform an analysis task. */
export interface ModelBackend {
  readonly name: string;
  readonly kind: 'openai' | 'local';
  analyse(task: AnalysisTask, signal: AbortSignal | undefined): Promise<AnalysisResult>;
  close?(): Promise<void>;
}
