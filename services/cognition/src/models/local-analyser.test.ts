import { describe, expect, it } from 'vitest';
import type { ConversationMessage } from './analysis';
import { LocalAnalyser, sentiment, summarise, topics } from './local-analyser';
import { words } from './text';

const conv = (...contents: string[]): ConversationMessage[] =>
  contents.map((content, i) => ({ content, timestamp: `2026-01-01T00:00:0${i}Z` }));

describe('summarise', () => {
  it('picks the sentence that carries the conversation’s recurring terms', () => {
    const messages = conv(
      'Hi there.',
      'The database migration failed during the deploy. I had lunch.',
      'Can we retry the migration?',
      'The weather is nice today.',
      'The migration of the database needs a lock before the deploy.',
    );
    const { summary, key_points } = summarise(messages, 1);
    expect(key_points).toHaveLength(1);
    expect(key_points[0]).toMatch(/migration/);
    expect(key_points[0]).toMatch(/database/);
    expect(summary).toBe(key_points[0]);
  });

  it('keeps the chosen sentences in conversation order and handles nothing to summarise', () => {
    const messages = conv('Alpha beta gamma.', 'Nothing here.', 'Beta gamma alpha again!', 'Gamma beta.');
    const { key_points } = summarise(messages, 2);
    expect(key_points).toEqual(['Alpha beta gamma.', 'Beta gamma alpha again!']);
    expect(summarise([], 3)).toEqual({ summary: '', key_points: [] });
    expect(summarise(conv('...', '   '), 3)).toEqual({ summary: '', key_points: [] });
  });

  it('clips a huge sentence', () => {
    const long = `${'word '.repeat(500)}end`;
    const { key_points } = summarise(conv(long), 1);
    expect(key_points[0]?.length).toBeLessThanOrEqual(301);
    expect(key_points[0]?.endsWith('…')).toBe(true);
  });
});

describe('topics', () => {
  it('ranks content words by frequency, without stopwords, numbers or plural duplicates', () => {
    const result = topics(
      conv(
        'The invoice for the server is late. The servers were down 3 times.',
        'Please send the invoice and the server logs, and the invoice number 1234.',
        'Is the invoice paid?',
      ),
      3,
    );
    expect(result.topics.map((t) => t.topic)).toEqual(['invoice', 'server', 'late']);
    expect(result.topics[0]?.weight).toBe(1);
    expect(result.topics[1]?.weight).toBe(0.75);
    expect(topics([]).topics).toEqual([]);
  });
});

describe('sentiment', () => {
  it('labels positive, negative and neutral conversations', () => {
    expect(sentiment(conv('This is great, thanks!', 'I love how fast it works.'))).toMatchObject({
      label: 'positive',
    });
    expect(
      sentiment(conv('The deploy failed again.', 'This is terrible, everything is broken.')),
    ).toMatchObject({ label: 'negative' });
    expect(sentiment(conv('The meeting is at ten.', 'Room 4, second floor.'))).toEqual({
      label: 'neutral',
      score: 0,
    });
  });

  it('flips a negated word and keeps the score within [-1, 1]', () => {
    expect(sentiment(conv('This is not good.')).label).toBe('negative');
    expect(sentiment(conv("I don't hate it at all")).label).toBe('positive');
    const strong = sentiment(conv('great '.repeat(1000)));
    expect(strong.score).toBeGreaterThan(0.99);
    expect(strong.score).toBeLessThanOrEqual(1);
  });
});

describe('LocalAnalyser', () => {
  it('dispatches on the analysis type', async () => {
    const local = new LocalAnalyser();
    const messages = conv('Everything works, great job.');
    expect(await local.analyse({ type: 'sentiment', messages })).toMatchObject({ label: 'positive' });
    expect(await local.analyse({ type: 'topics', messages })).toHaveProperty('topics');
    expect(await local.analyse({ type: 'summary', messages })).toHaveProperty('summary');
  });

  it('tokenises with apostrophes kept, as the lexicons spell them', () => {
    expect(words("Don’t STOP, it isn't 2 late")).toEqual(["don't", 'stop', 'it', "isn't", '2', 'late']);
  });

  it('summarises a message with a quarter of a million distinct words without overflowing', async () => {
    const content = Array.from({ length: 250_000 }, (_, i) => `w${i.toString(36)}x`).join(' ');
    const result = await new LocalAnalyser().analyse({
      type: 'summary',
      messages: [{ content, timestamp: 't' }],
    });
    expect(result).toMatchObject({ summary: expect.any(String) });
  });
});
