/** A plain aligned table: the human-readable part of every bench's output. */
export function printTable(title: string, header: string[], rows: (string | number)[][]) {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

/** Progress goes to stderr so stdout stays the table plus the one JSON line. */
export const progress = (message: string) => console.error(`[bench] ${message}`);

/** The machine-readable result: always the last line of stdout. */
export function printJson(result: Record<string, unknown>) {
  console.log(JSON.stringify(result));
}
