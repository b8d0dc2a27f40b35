import type {
  AnalysisResult,
  AnalysisTask,
  ConversationMessage,
  ModelBackend,
  SentimentResult,
  SummaryResult,
  TopicsResult,
} from './analysis';
import { NEGATIVE, NEGATORS, POSITIVE, STOPWORDS } from './lexicon';
import { clip, sentences, words } from './text';

const MAX_SENTENCE_CHARS = 300;

const isContentWord = (w: string, minLength: number) =>
  w.length >= minLength && !STOPWORDS.has(w) && !/^\p{N}+$/u.test(w);

function frequencies(messages: ConversationMessage[], minLength: number): Map<string, number> {
  const tf = new Map<string, number>();
  for (const m of messages) {
    for (const w of words(m.content)) if (isContentWord(w, minLength)) tf.set(w, (tf.get(w) ?? 0) + 1);
  }
  return tf;
}

/**
 * Extractive summary: sentences scored by how frequent their content words are across the whole
 * conversation (divided by the square root of their length, so a long sentence does not win by
 * size alone); the best ones are kept in their original order.
 */
export function summarise(messages: ConversationMessage[], maxSentences = 3): SummaryResult {
  const all = messages.flatMap((m) => sentences(m.content));
  if (all.length === 0) return { summary: '', key_points: [] };
  const tf = frequencies(messages, 2);
  // A loop, not Math.max(...values): spreading 150k distinct words overflows the call stack.
  let top = 1;
  for (const n of tf.values()) if (n > top) top = n;
  const scored = all.map((sentence, index) => {
    const content = [...new Set(words(sentence).filter((w) => isContentWord(w, 2)))];
    const sum = content.reduce((acc, w) => acc + (tf.get(w) ?? 0) / top, 0);
    return { sentence, index, score: content.length === 0 ? 0 : sum / Math.sqrt(content.length) };
  });
  const picked = [...scored]
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, maxSentences)
    .sort((a, b) => a.index - b.index)
    .map((s) => clip(s.sentence, MAX_SENTENCE_CHARS));
  return { summary: picked.join(' '), key_points: picked };
}

/** Keyword topics: the most frequent content words, a plural folded into its singular when both occur. */
export function topics(messages: ConversationMessage[], max = 5): TopicsResult {
  const tf = frequencies(messages, 3);
  for (const [w, n] of [...tf]) {
    const singular = w.endsWith('s') ? w.slice(0, -1) : undefined;
    if (singular && tf.has(singular)) {
      tf.set(singular, (tf.get(singular) ?? 0) + n);
      tf.delete(w);
    }
  }
  // Map order is first-occurrence order, and the sort is stable: ties go to the earlier word.
  const ranked = [...tf].sort((a, b) => b[1] - a[1]).slice(0, max);
  const top = ranked[0]?.[1] ?? 1;
  return { topics: ranked.map(([topic, n]) => ({ topic, weight: Math.round((n / top) * 1000) / 1000 })) };
}

/**
 * Lexicon sentiment: positive minus negative words (a negator up to two words before flips one),
 * damped by +1 in the denominator so that a single word gives a moderate score, not ±1.
 */
export function sentiment(messages: ConversationMessage[]): SentimentResult {
  let positive = 0;
  let negative = 0;
  for (const m of messages) {
    const ws = words(m.content);
    ws.forEach((w, i) => {
      let polarity = POSITIVE.has(w) ? 1 : NEGATIVE.has(w) ? -1 : 0;
      if (polarity === 0) return;
      if (NEGATORS.has(ws[i - 1] ?? '') || NEGATORS.has(ws[i - 2] ?? '')) polarity = -polarity;
      if (polarity > 0) positive++;
      else negative++;
    });
  }
  const score = Math.round(((positive - negative) / (positive + negative + 1)) * 1000) / 1000;
  const label = score >= 0.2 ? 'positive' : score <= -0.2 ? 'negative' : 'neutral';
  return { label, score };
}

/** The built-in backend: no network, always last in the chain. */
export class LocalAnalyser implements ModelBackend {
  readonly name = 'local';
  readonly kind = 'local' as const;

  async analyse(task: AnalysisTask): Promise<AnalysisResult> {
    switch (task.type) {
      case 'summary':
        return summarise(task.messages);
      case 'topics':
        return topics(task.messages);
      case 'sentiment':
        return sentiment(task.messages);
    }
  }
}
