import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { ConfigError, OwncdnError } from '../errors.js';
import type { ConfigIssue } from '../errors.js';
import { checkRules } from './rules.js';
import { fileSchema, quote } from './schema.js';
import { deepFreeze, normaliseConfig } from './normalise.js';
import type { Config } from './types.js';

type PathKey = string | number;

/** `nodes[1].continents[0]`: the path as people read it. */
export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${key}` : key;
  return out;
}

/**
 * The line of the deepest YAML node on `path` (1-based), so a problem is
 * reported where it is, or where the missing key should have been.
 */
function lineOf(doc: Document, counter: LineCounter, path: readonly PathKey[]): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === key);
      // A missing key is reported on the line of the mapping's own key (its parent).
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      node = pair.value;
      // A scalar reports its own line; a nested block (mapping or list) reports its key's line.
      offset =
        isMap(node) || isSeq(node)
          ? (keyStart ?? offset)
          : (rangeStart(node) ?? keyStart ?? offset);
    } else if (isSeq(node) && typeof key === 'number') {
      const item: unknown = node.items[key];
      if (item === undefined) break;
      node = isPair(item) ? item.value : item;
      offset = rangeStart(node) ?? offset;
    } else break;
  }
  return offset === undefined ? 0 : counter.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as YamlNode).range;
    return range?.[0];
  }
  return undefined;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'null',
};

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : 'a fraction';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

/** Messages for schema problems that carry no message of their own. */
function messageFor(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `is missing (expected ${expected})`;
      if (typeof issue.input === 'object' && issue.input !== null)
        return `is ${describeType(issue.input)} (expected ${expected})`;
      return `${quote(issue.input)} is ${describeType(issue.input)} (expected ${expected})`;
    }
    case 'too_small':
      if (issue.origin === 'array')
        return `has ${Array.isArray(issue.input) ? issue.input.length : 0} entries (expected at least ${String(issue.minimum)})`;
      if (issue.origin === 'string') return 'is empty (expected some text)';
      return `${quote(issue.input)} is too small (expected at least ${String(issue.minimum)})`;
    case 'too_big':
      return `${quote(issue.input)} is too large (expected at most ${String(issue.maximum)})`;
    case 'invalid_union':
      return `${quote(issue.input)} is not valid here`;
    case 'invalid_format':
      return `${quote(issue.input)} is not in the expected format`;
    default:
      return undefined;
  }
}

/** Levenshtein distance, to suggest `continents` for `contients`. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(
        current + 1,
        (row[j - 1] ?? 0) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

/** The schema inside optional/nullable/default/transform wrappers. */
function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

/** The keys the schema allows at `path` (for "unknown key" messages). */
function allowedKeys(path: readonly PathKey[]): string[] {
  let schema: z.ZodType = fileSchema;
  for (const key of path) {
    schema = unwrapSchema(schema);
    if (typeof key === 'number' && schema instanceof z.ZodArray)
      schema = schema.element as z.ZodType;
    else if (typeof key === 'string' && schema instanceof z.ZodObject && key in schema.shape)
      schema = schema.shape[key] as z.ZodType;
    else return [];
  }
  schema = unwrapSchema(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unknownKeyMessage(key: string, path: readonly PathKey[]): string {
  const allowed = allowedKeys(path);
  const close = allowed.find(
    (candidate) => editDistance(candidate.toLowerCase(), key.toLowerCase()) <= 2,
  );
  if (close) return `unknown key (did you mean ${close}?)`;
  return `unknown key (expected one of ${allowed.join(', ')})`;
}

export interface LoadConfigOptions {
  /** Name used in messages (default: the file's base name, e.g. `owncdn.yaml`). */
  readonly displayName?: string;
}

/**
 * Parses and validates owncdn.yaml text. Returns the frozen Config or throws a
 * ConfigError holding every problem, each with its line.
 */
export function parseConfig(text: string, file: string, options: LoadConfigOptions = {}): Config {
  const display = options.displayName ?? basename(file);
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const at = (path: readonly PathKey[], message: string): ConfigIssue => ({
    file: display,
    line: lineOf(doc, counter, path),
    path: formatPath(path),
    message,
  });

  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const line = error.linePos?.[0]?.line ?? 0;
      const what = error.message.split('\n')[0] ?? error.message;
      issues.push({ file: display, line, path: '', message: `not valid YAML: ${what}` });
    }
    throw new ConfigError(issues);
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined)
    throw new ConfigError([
      {
        file: display,
        line: 0,
        path: '',
        message: 'is empty (expected site, nodes and dns sections)',
      },
    ]);

  const result = fileSchema.safeParse(data, { reportInput: true, error: messageFor });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.filter((k): k is PathKey => typeof k !== 'symbol');
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) issues.push(at([...path, key], unknownKeyMessage(key, path)));
      } else {
        issues.push(at(path, issue.message));
      }
    }
    throw new ConfigError(sortIssues(issues));
  }
  for (const issue of checkRules(result.data)) issues.push(at(issue.path, issue.message));
  if (issues.length > 0) throw new ConfigError(sortIssues(issues));
  return deepFreeze(normaliseConfig(result.data, file, dirname(file)));
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => a.line - b.line);
}

/**
 * Reads, validates and normalises an owncdn.yaml file. Throws OwncdnError
 * OWNCDN_CONFIG_NOT_FOUND / OWNCDN_CONFIG_UNREADABLE, or ConfigError with every problem.
 */
export async function loadConfig(file: string, options: LoadConfigOptions = {}): Promise<Config> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new OwncdnError(
        'OWNCDN_CONFIG_NOT_FOUND',
        `${file}: no such file (expected an owncdn.yaml; see examples/owncdn.yaml, or pass -c PATH)`,
        { cause: error },
      );
    }
    if (code === 'EISDIR')
      throw new OwncdnError(
        'OWNCDN_CONFIG_UNREADABLE',
        `${file}: is a directory (expected an owncdn.yaml file)`,
        { cause: error },
      );
    throw new OwncdnError(
      'OWNCDN_CONFIG_UNREADABLE',
      `${file}: cannot be read (${code ?? String(error)})`,
      { cause: error },
    );
  }
  return parseConfig(text, absolute, { displayName: options.displayName ?? file });
}
