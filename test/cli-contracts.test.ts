/**
 * `jobcraft lock`, `jobcraft check` and the lockfile part of `jobcraft codegen --check`, end to end: the real command
 * on a project in a temporary git repository, its schema file changed between commits as a team would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckReport } from '../codegen/check.js';
import { runCli, writeFiles, writeSchemaProject, type Run } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'jobcraft-contracts-'));
const SCHEMA = join(dir, 'jobs.schema.ts');
const LOCK = join(dir, 'jobs.lock.json');

function write(files: Record<string, string>): void {
  writeFiles(dir, files);
}

/** The schema file with `fields` as sendEmail's payload (zod source) and more jobs when given. */
function schema(fields: string, more = ''): string {
  return `import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';

export const jobs = defineJobs({
  sendEmail: { payload: z.object({ ${fields} }), queue: 'email' },
  ${more}
});
`;
}

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  });
}

function cli(...args: string[]): Promise<Run> {
  return runCli(args, { NO_COLOR: '', FORCE_COLOR: '' });
}

beforeAll(() => {
  writeSchemaProject(dir, {
    'package.json': JSON.stringify({ name: 'mail-service', private: true, type: 'module' }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true, types: [] } }),
    '.gitignore': 'node_modules\n',
    'jobs.schema.ts': schema("to: z.email(), locale: z.enum(['en', 'de']).optional()"),
  });
  git('init', '-q');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('jobcraft lock / check / codegen --check', { timeout: 120_000 }, () => {
  it('check without a lockfile is a usage error naming `jobcraft lock`', async () => {
    const run = await cli('check', '--schema', SCHEMA);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no .*jobs\.lock\.json: run `jobcraft lock`/);
  });

  it('lock writes jobs.lock.json beside the schema file, the same bytes every time', async () => {
    const first = await cli('lock', '--schema', SCHEMA);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^wrote .*jobs\.lock\.json \(1 jobs\): commit it/);
    const text = readFileSync(LOCK, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const lock = JSON.parse(text) as { lockfileVersion: number; schema: string; jobs: Record<string, { queue: string; versions: { version: number; hash: string; input: { required: string[] }; output: { additionalProperties: boolean } }[] }> };
    expect(lock.lockfileVersion).toBe(1);
    expect(lock.schema).toBe('jobs.schema.ts');
    expect(lock.jobs.sendEmail?.queue).toBe('email');
    expect(lock.jobs.sendEmail?.versions.map((v) => v.version)).toEqual([1]);
    expect(lock.jobs.sendEmail?.versions[0]?.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(lock.jobs.sendEmail?.versions[0]?.input.required).toEqual(['to']);
    expect(lock.jobs.sendEmail?.versions[0]?.output.additionalProperties).toBe(false);

    const again = await cli('lock', '--schema', SCHEMA);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/jobs\.lock\.json is up to date/);
    expect(readFileSync(LOCK, 'utf8')).toBe(text);
    git('add', '.');
    git('commit', '-qm', 'v1');
  });

  it('check against the lockfile of an unchanged schema: exit 0', async () => {
    const run = await cli('check', '--schema', SCHEMA);
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/the job contracts are unchanged/);
  });

  it('codegen --check fails on a stale lockfile and says to run jobcraft lock', async () => {
    write({ 'jobs.schema.ts': schema("to: z.email(), locale: z.enum(['en', 'de']).optional(), subject: z.string()") });
    expect((await cli('codegen', '--schema', SCHEMA, '--out', join(dir, 'generated'))).code).toBe(0);
    const run = await cli('codegen', '--check', '--schema', SCHEMA, '--out', join(dir, 'generated'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/jobs\.lock\.json is stale: .*run `jobcraft check`, then `jobcraft lock`/);
    expect(run.stdout).toMatch(/generated\/ is up to date/);
  });

  it('check finds the new required field: exit 2 in modes full and backward, 0 in forward', async () => {
    const full = await cli('check', '--schema', SCHEMA);
    expect(full.code).toBe(2);
    expect(full.stdout).toMatch(/breaking\s+field-added-required\s+sendEmail\s+subject\s+backward/);
    expect(full.stdout).toMatch(/safe\s+field-added-required\s+sendEmail\s+subject\s+forward/);
    expect(full.stdout).toMatch(/1 breaking change\(s\)/);
    expect((await cli('check', '--schema', SCHEMA, '--mode', 'backward')).code).toBe(2);
    const forward = await cli('check', '--schema', SCHEMA, '--mode', 'forward');
    expect(forward.code).toBe(0);
    expect(forward.stdout).toMatch(/breaking\*\s+field-added-required/);
  });

  it('--json prints the findings as one document', async () => {
    const run = await cli('check', '--schema', SCHEMA, '--json');
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as CheckReport;
    expect(report.mode).toBe('full');
    expect(report.breaking).toBe(true);
    expect(report.against).toMatch(/jobs\.lock\.json$/);
    expect(report.findings).toContainEqual({
      rule: 'field-added-required',
      job: 'sendEmail',
      path: 'subject',
      direction: 'backward',
      severity: 'breaking',
      message: 'subject is new and required',
      hint: 'add a default (.default(...)) or make it optional for one release',
    });
  });

  it('--against HEAD~1 reads the lockfile committed there', async () => {
    // The fix: a default. Locked and committed, so the lockfile on disk agrees…
    write({ 'jobs.schema.ts': schema("to: z.email(), locale: z.enum(['en', 'de']).optional(), subject: z.string().default('Hello')") });
    expect((await cli('lock', '--schema', SCHEMA)).code).toBe(0);
    git('commit', '-qam', 'v2');
    expect((await cli('check', '--schema', SCHEMA)).code).toBe(0);
    // …then a value removed from the enum, locked and committed too: only the previous commits know the old values.
    write({ 'jobs.schema.ts': schema("to: z.email(), locale: z.enum(['en']).optional(), subject: z.string().default('Hello')") });
    expect((await cli('lock', '--schema', SCHEMA)).code).toBe(0);
    git('commit', '-qam', 'v3');
    expect((await cli('check', '--schema', SCHEMA)).code).toBe(0);
    const run = await cli('check', '--schema', SCHEMA, '--against', 'HEAD~1', '--json');
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as CheckReport;
    expect(report.against).toMatch(/^HEAD~1:.*jobs\.lock\.json$/);
    expect(report.findings.filter((f) => f.severity === 'breaking').map((f) => [f.rule, f.path, f.direction, f.message])).toEqual([
      ['enum-value-removed', 'locale', 'backward', '"de"'],
    ]);
    const first = await cli('check', '--schema', SCHEMA, '--against', 'HEAD~2');
    expect(first.code).toBe(2);
    expect(first.stdout).toMatch(/safe\s+field-added-optional\s+sendEmail\s+subject\s+backward/);
  });

  it('--against a lockfile path; a job removed and one renamed', async () => {
    const old = join(dir, 'old.lock.json');
    writeFileSync(old, git('show', 'HEAD:jobs.lock.json'));
    write({ 'jobs.schema.ts': schema("to: z.email(), locale: z.enum(['en']).optional(), subject: z.string().default('Hello')", "sendSms: { payload: z.object({ to: z.string() }), queue: 'sms' },").replace('sendEmail:', 'sendMail:') });
    const run = await cli('check', '--schema', SCHEMA, '--against', old);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/breaking\s+job-removed\s+sendEmail\s+-\s+backward\s+job sendEmail is gone; sendMail has the same payload and queue: renamed\?/);
    expect(run.stdout).toMatch(/safe\s+job-added\s+sendMail/);
    expect(run.stdout).toMatch(/safe\s+job-added\s+sendSms/);
  });

  it('a job renamed with its old name as an alias is job-renamed: safe backward, breaking forward with "deploy workers first"', async () => {
    const old = join(dir, 'old.lock.json');
    writeFileSync(old, git('show', 'HEAD:jobs.lock.json'));
    write({ 'jobs.schema.ts': schema("to: z.email(), locale: z.enum(['en']).optional(), subject: z.string().default('Hello')").replace('sendEmail:', 'sendMail:').replace("queue: 'email' }", "queue: 'email', aliases: ['sendEmail'] }") });
    const run = await cli('check', '--schema', SCHEMA, '--against', old, '--json');
    expect(run.code).toBe(2);
    const report = JSON.parse(run.stdout) as CheckReport;
    expect(report.findings.filter((f) => f.rule === 'job-removed')).toEqual([]);
    expect(report.findings.filter((f) => f.severity === 'breaking').map((f) => [f.rule, f.job, f.direction])).toEqual([['job-renamed', 'sendMail', 'forward']]);
    expect(report.findings.find((f) => f.rule === 'job-renamed' && f.direction === 'forward')?.hint).toMatch(/^deploy workers first/);
    expect(report.findings).toContainEqual(expect.objectContaining({ rule: 'job-renamed', job: 'sendEmail', direction: 'backward', severity: 'safe' }));
    // Workers first: the forward direction alone fails, the backward one passes.
    expect((await cli('check', '--schema', SCHEMA, '--against', old, '--mode', 'backward')).code).toBe(0);
  });

  it('a breaking change to a job\'s result exits 2 naming the result field', async () => {
    const report = (result: string): string =>
      schema("to: z.email()", `renderReport: { payload: z.object({ id: z.string() }), queue: 'docs', result: z.object({ ${result} }) },`);
    write({ 'jobs.schema.ts': report('url: z.string()') });
    expect((await cli('lock', '--schema', SCHEMA)).code).toBe(0);
    const locked = JSON.parse(readFileSync(LOCK, 'utf8')) as { jobs: Record<string, { result?: { input: { required?: string[] } } }> };
    expect(locked.jobs.renderReport?.result?.input.required).toEqual(['url']);
    expect(locked.jobs.sendEmail !== undefined && 'result' in locked.jobs.sendEmail).toBe(false);
    const old = join(dir, 'result-old.lock.json');
    writeFileSync(old, readFileSync(LOCK, 'utf8'));
    // Waiters of the new deploy require `pages`; results old workers stored have none.
    write({ 'jobs.schema.ts': report('url: z.string(), pages: z.number().int()') });
    const run = await cli('check', '--schema', SCHEMA, '--against', old);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/breaking\s+field-added-required\s+renderReport\s+result\.pages\s+backward\s+pages is new and required/);
    const json = await cli('check', '--schema', SCHEMA, '--against', old, '--json');
    expect(json.code).toBe(2);
    const breaking = (JSON.parse(json.stdout) as CheckReport).findings.filter((f) => f.severity === 'breaking');
    expect(breaking.map((f) => [f.rule, f.job, f.part, f.path, f.direction])).toEqual([['field-added-required', 'renderReport', 'result', 'result.pages', 'backward']]);
  });

  it('a ref git does not know is a usage error', async () => {
    const run = await cli('check', '--schema', SCHEMA, '--against', 'no-such-ref');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--against no-such-ref: not a file, and git cannot show jobs\.lock\.json at that ref/);
    expect(existsSync(LOCK)).toBe(true);
  });
});
