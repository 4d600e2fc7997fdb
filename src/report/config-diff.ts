/**
 * The settings of the effective deploy that differ from the approved ones, for people and for CI:
 * one line per setting (`servers.web.cmd: "bin/rails s" → "sh -c '…'"`, added and removed settings
 * marked), and GitHub workflow commands (`::warning file=…,line=…::setting: from → to`) on the line
 * the setting is written at. Values are JSON-quoted and cut to 120 characters; the effective deploy
 * holds the names of secrets only, so no secret value can appear.
 */
import { escapeData, escapeProperty } from './github.js';
import { changeKind, type SettingChange } from './config-diff-model.js';
import type { SourceLocation } from '../types.js';

const MAX_VALUE = 120;

/** A value as JSON, on one line, cut to 120 characters. */
export function shownValue(value: unknown): string {
  const json = value === undefined ? '(none)' : (JSON.stringify(value) ?? String(value));
  return json.length > MAX_VALUE ? `${json.slice(0, MAX_VALUE - 1)}…` : json;
}

function changeLine(c: SettingChange): string {
  switch (changeKind(c)) {
    case 'added':
      return `+ ${c.path}: ${shownValue(c.to)} (added)`;
    case 'removed':
      return `- ${c.path}: ${shownValue(c.from)} (removed)`;
    default:
      return `~ ${c.path}: ${shownValue(c.from)} → ${shownValue(c.to)}`;
  }
}

/** One line per setting; `title` heads the list. */
export function renderConfigDiffText(changes: readonly SettingChange[], title: string): string {
  if (!changes.length) return `${title}: no difference\n`;
  const s = changes.length === 1 ? '' : 's';
  return `${title}: ${changes.length} setting${s} differ${s ? '' : 's'}\n${changes.map((c) => `  ${changeLine(c)}\n`).join('')}`;
}

/**
 * A `::warning` per setting, at the file and line `locate` finds for it (else `configFile`, no
 * line), and a last line for people.
 */
export function renderConfigDiffGithub(changes: readonly SettingChange[], configFile: string, locate: (path: string) => SourceLocation | undefined, title: string): string {
  const lines = changes.map((c) => {
    const at = locate(c.path);
    const props = at ? `file=${escapeProperty(at.file)},line=${at.line}` : `file=${escapeProperty(configFile)}`;
    const marker = changeKind(c) === 'changed' ? '' : ` (${changeKind(c)})`;
    return `::warning ${props}::${escapeData(`${c.path}: ${shownValue(c.from)} → ${shownValue(c.to)}${marker}`)}`;
  });
  lines.push(changes.length ? `${title}: ${changes.length} setting${changes.length === 1 ? '' : 's'} changed` : `${title}: no difference`);
  return lines.join('\n') + '\n';
}
