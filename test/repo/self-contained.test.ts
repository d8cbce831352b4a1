/**
 * The repository explains itself: no tracked file may point at a path outside it (notes that
 * live beside a checkout, a developer's home folder), and every relative link in a Markdown
 * file must reach a tracked file or folder inside the repository. Whoever clones it has
 * nothing else.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

function repoRoot(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: here, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const root = repoRoot();

/** Tracked files (the index, so a staged new file counts) that exist in the working tree. */
function trackedFiles(top: string): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: top, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\0').filter((p) => p !== '' && existsSync(join(top, p)));
}

/** Paths outside the repository, each with the reason a reader gets. */
const OUTSIDE: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /\.\.\/shared\b/, why: 'a folder beside the checkout' },
  { pattern: /(?<![\w./-])shared\/[A-Z]+\.md\b/, why: 'notes kept outside the repository' },
  { pattern: /(?<![\w.-])\/work\//, why: 'a path on one machine' },
  { pattern: /(?<![\w.~-])\/(?:home|Users)\/[\w.-]+/, why: 'an absolute home path' },
  { pattern: /(?<![\w.~-])\/root\//, why: 'an absolute home path' },
];

/** Binary files hold no paths anyone reads. */
function isSearchable(text: string): boolean {
  return !text.includes('\0');
}

/** Markdown without fenced code blocks and inline code spans: what is left holds the links. */
function stripCode(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Targets of inline links and images, reference definitions and HTML href/src attributes. */
function linkTargets(markdown: string): string[] {
  const text = stripCode(markdown);
  const targets: string[] = [];
  for (const m of text.matchAll(/!?\[[^\]\n]*\]\(\s*(<[^>\n]*>|[^)\s]+)[^)\n]*\)/g)) targets.push(m[1]!);
  for (const m of text.matchAll(/^ {0,3}\[[^\]\n]+\]:\s*(<[^>\n]*>|\S+)/gm)) targets.push(m[1]!);
  for (const m of text.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/g)) targets.push(m[1]!);
  return targets.map((t) => (t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t));
}

/**
 * Why a link from `fromFile` to `target` is broken, or null when it is fine. URLs and
 * in-page anchors are not checked; anything else must resolve to a tracked path.
 */
function brokenLink(fromFile: string, target: string, tracked: ReadonlySet<string>): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) return null;
  if (target.startsWith('/')) return 'is an absolute path; use a link relative to the file';
  let path = target.replace(/[?#].*$/, '');
  try {
    path = decodeURIComponent(path);
  } catch {
    return 'is not a valid URL path';
  }
  if (path === '') return null;
  const resolved = posix.normalize(posix.join(posix.dirname(fromFile), path)).replace(/\/$/, '');
  if (resolved === '..' || resolved.startsWith('../')) return 'leaves the repository';
  if (resolved === '.' || tracked.has(resolved)) return null;
  return 'names no tracked file or folder';
}

/** Every tracked file and every folder holding one. */
function trackedPaths(files: readonly string[]): Set<string> {
  const paths = new Set<string>();
  for (const f of files) {
    paths.add(f);
    for (let d = posix.dirname(f); d !== '.'; d = posix.dirname(d)) paths.add(d);
  }
  return paths;
}

/** Built from parts, so that this file holds no outside path itself. */
const NOTES = ['sha', 'red'].join('');
const WORK = ['wo', 'rk'].join('');

describe('link checking', () => {
  const tracked = new Set(['README.md', 'docs', 'docs/PROTOCOL.md', 'server', 'server/README.md']);

  it('finds inline links, images, reference definitions and HTML attributes, not code', () => {
    const md = [
      'See [the protocol](docs/PROTOCOL.md#headers) and ![logo](<img/a b.png>).',
      '[ref]: ../outside.md',
      '<a href="server/README.md">server</a>',
      '`[not a link](nowhere.md)`',
      '```',
      '[also not](nowhere.md)',
      '```',
    ].join('\n');
    expect(linkTargets(md)).toEqual([
      'docs/PROTOCOL.md#headers',
      'img/a b.png',
      '../outside.md',
      'server/README.md',
    ]);
  });

  it('accepts URLs, anchors and tracked targets; refuses the rest', () => {
    expect(brokenLink('README.md', 'https://example.org/x', tracked)).toBeNull();
    expect(brokenLink('README.md', '#quick-start', tracked)).toBeNull();
    expect(brokenLink('README.md', 'docs/PROTOCOL.md#framing', tracked)).toBeNull();
    expect(brokenLink('server/README.md', '../docs/PROTOCOL.md', tracked)).toBeNull();
    expect(brokenLink('server/README.md', '../docs/', tracked)).toBeNull();
    expect(brokenLink('README.md', 'docs/MISSING.md', tracked)).toMatch(/no tracked file/);
    expect(brokenLink('docs/PROTOCOL.md', `../../${NOTES}/PROTOCOL.md`, tracked)).toMatch(/leaves/);
    expect(brokenLink('README.md', '/docs/PROTOCOL.md', tracked)).toMatch(/absolute/);
  });

  it('recognises every kind of outside path', () => {
    const hits = (text: string) => OUTSIDE.filter((o) => o.pattern.test(text)).length;
    for (const bad of [
      `see ../${NOTES}/PROTOCOL.md`,
      `see ${NOTES}/ARCHITECTURE.md`,
      `at /${WORK}/${NOTES}/STYLE.md`,
      `in /${'home'}/alice/src`,
      `in /${'Users'}/alice/src`,
      `in /${'root'}/.config`,
    ]) {
      expect(hits(bad), bad).toBeGreaterThan(0);
    }
    // A hostile file name in a test (server/storage.test.ts) is data, not a path we rely on.
    for (const fine of [
      'docs/PROTOCOL.md',
      '/usr/bin/cksum',
      'https://example.org/work/',
      'lib/shared/x.ts',
      'C:\\Users\\me\\file.txt',
    ]) {
      expect(hits(fine), fine).toBe(0);
    }
  });
});

describe.skipIf(root === null)('the repository is self-contained', () => {
  const top = root ?? '.';
  const files = root === null ? [] : trackedFiles(top);
  const tracked = trackedPaths(files);

  it('no tracked file refers to a path outside the repository', () => {
    const found: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(top, file), 'utf8');
      if (!isSearchable(text)) continue;
      text.split('\n').forEach((line, i) => {
        for (const { pattern, why } of OUTSIDE) {
          const m = pattern.exec(line);
          if (m) found.push(`${file}:${i + 1}: "${m[0]}" is ${why}`);
        }
      });
    }
    expect(
      found,
      'Point to docs/PROTOCOL.md or docs/ARCHITECTURE.md, or a path inside the repository.',
    ).toEqual([]);
  });

  it('every relative link in a Markdown file reaches a tracked file inside the repository', () => {
    const broken: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.md'))) {
      for (const target of linkTargets(readFileSync(join(top, file), 'utf8'))) {
        const why = brokenLink(file, target, tracked);
        if (why) broken.push(`${file}: (${target}) ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
