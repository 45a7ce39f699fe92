import {
  type AuthMethod,
  ErrorCode,
  VELOCITERM_MAPPED_KEYS,
  VelociTermFolderSchema,
  VelociTermSessionSchema,
} from '@tether/protocol';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, stringify } from 'yaml';
import type { z } from 'zod';
import { AppError } from '../errors.js';

/**
 * VelociTerm `sessions.yaml`: a list of `{ folder_name, sessions: [...] }`. Sessions use
 * VelociTerm's key names (`display_name`, `DeviceType`, `Model`, port as a string); keys this
 * module does not know are carried in `extra` and written back verbatim, so a file survives
 * import → export → import unchanged. Tether's own fields ride along as extra keys VelociTerm
 * ignores (`username`, `auth_method`, `credential`, `tags`, `notes`).
 */

/** Keys mapped onto profile columns; everything else on a session goes to `extra`. */
const KNOWN_KEYS = new Set<string>(VELOCITERM_MAPPED_KEYS);

const MAX_REPORTED_PROBLEMS = 20;

export interface ImportedSession {
  /** 1-based line of the entry in the file, for error messages. */
  line: number;
  name: string;
  host: string;
  port: number;
  deviceType: string | null;
  model: string | null;
  /** Tether keys: `undefined` means "not in the file" (an update keeps the stored value). */
  username?: string | null;
  authMethod?: AuthMethod;
  credential?: string | null;
  tags?: string[];
  notes?: string | null;
  extra: Record<string, unknown>;
}

export interface ImportedFolder {
  /** '' = the top level (profiles in no folder). */
  name: string;
  line: number;
  sessions: ImportedSession[];
}

/** A rejected file: 400 with `fields` keyed by entry path, each message starting with its line. */
export class ImportFileError extends AppError {
  constructor(readonly problems: Array<{ path: string; message: string }>) {
    const first = problems[0]!;
    const summary =
      problems.length === 1
        ? `The file was not imported: ${first.message}`
        : `The file was not imported (${problems.length}${problems.length >= MAX_REPORTED_PROBLEMS ? '+' : ''} problems); first: ${first.message}`;
    super(400, ErrorCode.VALIDATION_FAILED, summary, {
      fields: Object.fromEntries(problems.map((p) => [p.path, p.message])),
    });
    this.name = 'ImportFileError';
  }
}

const emptyToNull = (v: string | null | undefined): string | null => (v ? v : null);

/** JSON-compatible copy: what jsonb will store, so diffs compare like with like. */
function jsonSafe(value: unknown): unknown {
  return value === undefined ? null : JSON.parse(JSON.stringify(value));
}

/** Deepest nesting of flow collections (`[`, `{`) a file may have; VelociTerm files use none. */
export const MAX_FLOW_DEPTH = 32;
/** Widest indentation, in columns; a VelociTerm file needs 6. */
export const MAX_INDENT = 256;

/**
 * One linear pass, before any parsing: refuses in milliseconds the shapes that make a YAML parser
 * recurse or allocate without bound (a million nested `[`, runaway indentation), which are never
 * a list of folders and sessions. Quoted scalars and comments are skipped.
 */
export function checkYamlShape(text: string): void {
  let depth = 0;
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 /* \n */) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === 32 /* space */) {
        if (++indent > MAX_INDENT) {
          throw new ImportFileError([
            { path: 'yaml', message: `line ${lineOf(text, i)}: indented deeper than ${MAX_INDENT} columns` },
          ]);
        }
        continue;
      }
      lineStart = false;
    }
    if (c === 35 /* # */ && (i === 0 || text.charCodeAt(i - 1) <= 32)) {
      // A comment runs to the end of the line.
      const end = text.indexOf('\n', i);
      if (end < 0) return;
      i = end - 1;
    } else if (c === 34 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
    } else if (c === 39 /* ' */ && (depth > 0 || /[\s:\-[{,]/.test(text[i - 1] ?? ' '))) {
      // A single-quoted scalar ('' is an escaped quote); an apostrophe inside a plain word is not.
      for (i++; i < text.length; i++) {
        if (text.charCodeAt(i) === 39) {
          if (text.charCodeAt(i + 1) === 39) i++;
          else break;
        }
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > MAX_FLOW_DEPTH) {
        throw new ImportFileError([
          {
            path: 'yaml',
            message: `line ${lineOf(text, i)}: nested deeper than ${MAX_FLOW_DEPTH} levels; this is not a VelociTerm file`,
          },
        ]);
      }
    } else if ((c === 93 /* ] */ || c === 125) /* } */ && depth > 0) {
      depth--;
    }
  }
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Parses and validates a whole file; throws ImportFileError naming lines and entries. */
export function parseVelociTerm(text: string): ImportedFolder[] {
  if (text.includes('\0')) {
    throw new ImportFileError([
      { path: 'yaml', message: 'the file contains NUL bytes; it is not a YAML text file' },
    ]);
  }
  checkYamlShape(text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    // YAML 1.2 core schema: no timestamps, binary or merge keys; values stay JSON-compatible.
    schema: 'core',
  });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  if (doc.errors.length) {
    throw new ImportFileError(
      doc.errors.slice(0, MAX_REPORTED_PROBLEMS).map((err) => {
        const { line, col } = lineCounter.linePos(err.pos[0]);
        // yaml's messages are about syntax, never echo values at length; keep the first line.
        const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, '');
        return { path: 'yaml', message: `line ${line}, column ${col}: ${reason}` };
      }),
    );
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new ImportFileError([{ path: 'yaml', message: 'the file is empty' }]);
  }
  if (!isSeq(root)) {
    throw new ImportFileError([
      {
        path: 'yaml',
        message: `line ${lineAt(root.range?.[0] ?? 0)}: the file must be a list of folders (- folder_name: …)`,
      },
    ]);
  }

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Alias bombs ("billion laughs") end here instead of exhausting memory.
    throw new ImportFileError([
      { path: 'yaml', message: `the file cannot be read: ${(err as Error).message}` },
    ]);
  }
  const folderValues = js as unknown[];
  const problems: Array<{ path: string; message: string }> = [];
  const report = (path: string, line: number, message: string) => {
    if (problems.length < MAX_REPORTED_PROBLEMS) problems.push({ path, message: `line ${line}: ${message}` });
  };
  const nodeLine = (node: unknown, fallback: number): number => {
    const range = (node as Node | null)?.range;
    return range ? lineAt(range[0]) : fallback;
  };
  /** Line of `key`'s value inside a mapping node (falls back to the mapping's own line). */
  const keyLine = (node: unknown, key: PropertyKey | undefined, fallback: number): number => {
    if (typeof key !== 'string' || !isMap(node)) return fallback;
    const pair = node.items.find((it) => isScalar(it.key) && it.key.value === key);
    return pair ? nodeLine(pair.value ?? pair.key, fallback) : fallback;
  };
  const describeIssue = (issue: z.core.$ZodIssue, what: string): string => {
    const field = issue.path.map(String).join('.');
    return field ? `${field} ${issue.message} (${what})` : `${issue.message} (${what})`;
  };

  const byName = new Map<string, ImportedFolder>();
  const result: ImportedFolder[] = [];
  folderValues.forEach((folderValue, fi) => {
    const folderNode = root.items[fi];
    const folderLine = nodeLine(folderNode, 1);
    const parsed = VelociTermFolderSchema.safeParse(folderValue);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        report(
          `${fi}.${issue.path.join('.')}`.replace(/\.$/, ''),
          keyLine(folderNode, issue.path[0], folderLine),
          describeIssue(issue, `folder #${fi + 1}`),
        );
      }
      return;
    }
    const folderName = parsed.data.folder_name ?? '';
    const folderLabel = folderName ? `folder "${folderName}"` : 'the top-level folder';
    // The same folder listed twice (any case) is one folder, as it is in the database.
    let folder = byName.get(folderName.toLowerCase());
    if (!folder) {
      folder = { name: folderName, line: folderLine, sessions: [] };
      byName.set(folderName.toLowerCase(), folder);
      result.push(folder);
    }
    const sessionsNode = isMap(folderNode) ? folderNode.get('sessions', true) : undefined;
    const seen = new Map<string, number>(folder.sessions.map((s) => [s.name, s.line]));

    (parsed.data.sessions ?? []).forEach((sessionValue, si) => {
      const sessionNode = isSeq(sessionsNode) ? sessionsNode.items[si] : undefined;
      const line = nodeLine(sessionNode, folderLine);
      const path = `${fi}.sessions.${si}`;
      if (typeof sessionValue !== 'object' || sessionValue === null || Array.isArray(sessionValue)) {
        report(
          path,
          line,
          `session #${si + 1} in ${folderLabel} must be a mapping (display_name, host, port, …)`,
        );
        return;
      }
      const rawName = (sessionValue as Record<string, unknown>).display_name;
      const what = `session ${typeof rawName === 'string' && rawName ? `"${rawName}"` : `#${si + 1}`} in ${folderLabel}`;
      const s = VelociTermSessionSchema.safeParse(sessionValue);
      if (!s.success) {
        for (const issue of s.error.issues) {
          report(
            `${path}.${issue.path.join('.')}`,
            keyLine(sessionNode, issue.path[0], line),
            describeIssue(issue, what),
          );
        }
        return;
      }
      const v = s.data;
      const previous = seen.get(v.display_name);
      if (previous !== undefined) {
        report(
          `${path}.display_name`,
          line,
          `duplicate display_name "${v.display_name}" in ${folderLabel} (first at line ${previous})`,
        );
        return;
      }
      seen.set(v.display_name, line);
      const extra: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(sessionValue)) {
        if (!KNOWN_KEYS.has(key)) extra[key] = jsonSafe(value);
      }
      folder.sessions.push({
        line,
        name: v.display_name,
        host: v.host,
        port: v.port,
        deviceType: emptyToNull(v.DeviceType),
        model: emptyToNull(v.Model),
        ...(v.username !== undefined ? { username: emptyToNull(v.username) } : {}),
        ...(v.auth_method != null ? { authMethod: v.auth_method } : {}),
        ...(v.credential !== undefined ? { credential: emptyToNull(v.credential) } : {}),
        ...(v.tags !== undefined ? { tags: v.tags ?? [] } : {}),
        ...(v.notes !== undefined ? { notes: emptyToNull(v.notes) } : {}),
        extra,
      });
    });
  });
  if (problems.length) throw new ImportFileError(problems);
  return result;
}

export interface ExportSession {
  name: string;
  host: string;
  port: number;
  deviceType: string | null;
  model: string | null;
  username: string | null;
  authMethod: AuthMethod;
  /** Name of the linked credential set (never its secret). */
  credential: string | null;
  tags: string[];
  notes: string | null;
  extra: Record<string, unknown>;
}

export interface ExportFolder {
  /** '' = the top level. */
  name: string;
  sessions: ExportSession[];
}

/** Case-insensitive first, then exact: the same order on every machine, whatever the collation. */
export function stableCompare(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sessionOrder(a: ExportSession, b: ExportSession): number {
  return stableCompare(a.name, b.name) || stableCompare(a.host, b.host) || a.port - b.port;
}

/**
 * Writes the VelociTerm layout. Output depends only on the data (folders and sessions sorted,
 * extra keys sorted, fixed key order), so exporting twice gives byte-identical files.
 */
export function serializeVelociTerm(folders: ExportFolder[]): string {
  const data = [...folders]
    .sort((a, b) => stableCompare(a.name, b.name))
    .map((folder) => ({
      folder_name: folder.name,
      sessions: [...folder.sessions].sort(sessionOrder).map((s) => {
        const entry: Record<string, unknown> = {
          display_name: s.name,
          host: s.host,
          // VelociTerm writes ports as strings.
          port: String(s.port),
          DeviceType: s.deviceType ?? '',
          Model: s.model ?? '',
        };
        for (const key of Object.keys(s.extra).sort(stableCompare)) {
          // A known key always wins over a stale extra of the same name.
          if (!KNOWN_KEYS.has(key)) entry[key] = s.extra[key];
        }
        if (s.username) entry.username = s.username;
        if (s.authMethod !== 'none') entry.auth_method = s.authMethod;
        if (s.credential) entry.credential = s.credential;
        else if (s.extra.credential != null) entry.credential = s.extra.credential;
        if (s.tags.length) entry.tags = s.tags;
        if (s.notes) entry.notes = s.notes;
        return entry;
      }),
    }));
  return stringify(data, {
    singleQuote: true,
    lineWidth: 0,
    aliasDuplicateObjects: false,
  });
}
