import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface FrameShare {
  frame: string;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Share of busy (non-idle) samples, by the function that was on top of the stack. */
  topFrames: FrameShare[];
  /** The same, grouped by where the code lives: a package, node internals, our own source, GC. */
  byOrigin: FrameShare[];
  /** Share of the profiled time the thread was not idle: near 100 means this process is a bottleneck. */
  busyPercent: number;
}

function origin(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  return url;
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('node_modules/');
  if (i >= 0) return url.slice(i + 'node_modules/'.length).replace(/^\.pnpm\/[^/]+\/node_modules\//, '');
  const j = url.search(/\/(packages|services)\//);
  return j >= 0 ? url.slice(j + 1) : url;
}

/** Now on the clock V8 stamps profile samples with (CLOCK_MONOTONIC, µs), as libuv reads it. */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

export interface Window {
  fromUs: number;
  toUs: number;
}

/** Samples per node, only those taken inside one of `windows` (µs, monotonic) when given. */
function hitsPerNode(profile: Profile, windows: readonly Window[] | undefined) {
  const hits = new Map<number, number>();
  if (!windows || !profile.samples || !profile.timeDeltas) {
    for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
    return hits;
  }
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (!windows.some((w) => t >= w.fromUs && t <= w.toUs)) continue;
    const id = profile.samples[i]!;
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  return hits;
}

/**
 * Self-time shares of one `.cpuprofile` (V8's format, as `node --cpu-prof` writes it), limited to
 * `windows` so start-up (module loading, transpiling) does not crowd out the measured phase.
 */
export function summariseProfile(path: string, windows?: readonly Window[], top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const perNode = hitsPerNode(profile, windows);
  const frames = new Map<string, number>();
  const origins = new Map<string, number>();
  let busy = 0;
  let all = 0;
  for (const node of profile.nodes) {
    const hits = perNode.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    all += hits;
    if (hits === 0 || functionName === '(idle)') continue;
    busy += hits;
    const name = `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
    frames.set(name, (frames.get(name) ?? 0) + hits);
    const o = origin(url, functionName);
    origins.set(o, (origins.get(o) ?? 0) + hits);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, hits]) => ({ frame, percent: Number(((100 * hits) / Math.max(1, busy)).toFixed(1)) }));
  return {
    file: path,
    topFrames: rank(frames),
    byOrigin: rank(origins),
    busyPercent: Number(((100 * busy) / Math.max(1, all)).toFixed(1)),
  };
}

/** The main-thread profiles written into `dir` (tsx's loader thread writes its own; skipped). */
export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => /\.0\.\d+\.cpuprofile$/.test(f))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}
