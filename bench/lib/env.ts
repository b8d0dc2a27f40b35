/** Bench settings come from the environment, so a quiet machine can run longer without edits. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} must be a non-negative number, got "${raw}"`);
    process.exit(2);
  }
  return value;
}

export function envFlag(name: string, fallback = false): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  return raw === '1' || raw.toLowerCase() === 'true' || raw.toLowerCase() === 'on';
}

export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** The machine's load when a figure was taken: absolute numbers only mean something beside it. */
export async function machineNote() {
  const os = await import('node:os');
  return { cpus: os.cpus().length, loadavg_1m: Number(os.loadavg()[0]!.toFixed(2)), node: process.version };
}
