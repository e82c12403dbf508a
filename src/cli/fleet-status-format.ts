/** The human-readable form of `faceedge fleet status`: one line per board, then a one-line summary. */
import { formatTable } from './format-table.js';
import type { BoardRow, CameraRow } from '../fleet/fleet-view.js';

/** `3m ago`-style age of an ISO time relative to `nowMs`. */
export function age(isoTime: string | null, nowMs: number): string {
  if (!isoTime) return '-';
  const s = Math.max(0, Math.round((nowMs - Date.parse(isoTime)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function camera(c: CameraRow, nowMs: number): string {
  const fps = c.fps === null ? '?' : String(c.fps);
  // An offline board's last report is history: never show its camera as if it were running now.
  const capture = c.stale ? `STALE (was ${c.capture ?? '?'})` : (c.capture ?? '?');
  return `${c.name}:${capture} ${fps}fps last ${age(c.last_event, nowMs)}`;
}

export function formatFleetStatus(rows: readonly BoardRow[], nowMs = Date.now()): string {
  const header = [
    'DEVICE',
    'STATE',
    'SINCE',
    'VERSION',
    'MODEL',
    'SHA256',
    'INSTALLED',
    'DELEGATE',
    'TAGS',
    'CAMERAS (capture, fps, last event)',
  ];
  const body = rows.map((b) => [
    b.device,
    b.online === null ? '?' : b.online ? 'online' : 'OFFLINE',
    age(b.since, nowMs),
    b.version ?? '-',
    b.model?.id ?? '-',
    b.model?.sha256.slice(0, 12) ?? '-',
    b.model?.installed === 'model-store' ? `store ${b.model.version ?? ''}`.trim() : (b.model?.installed ?? '-'),
    b.delegate
      ? `${b.delegate.active}${b.delegate.fallback_reason ? ` (fallback: ${b.delegate.fallback_reason})` : ''}`
      : '-',
    b.tags.join(',') || '-',
    b.cameras.map((c) => camera(c, nowMs)).join('; ') || '-',
  ]);
  const online = rows.filter((b) => b.online === true).length;
  return `${formatTable([header, ...body])}\n${rows.length} boards, ${online} online, ${rows.length - online} offline or unknown`;
}
