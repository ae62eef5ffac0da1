// The seed's CLI inside the app, exactly as its user types it:
// `npm run recover-stuck-runs -- --check-only`, `-- --timeout=60`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { useTestDatabase, LIVE, statuses, STUCK_AT_30 } from './helpers/db.ts';
import { APP_DIR } from './helpers/server.ts';

const db = useTestDatabase('npmcli');

/** `npm run recover-stuck-runs -- ...args` (PGDATABASE: this file's database); stdout without npm's "> ..." banner. */
function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runIn(process.env, ...args);
}

function runIn(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['run', 'recover-stuck-runs', '--', ...args], { cwd: APP_DIR, env }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      const own = stdout.split('\n').filter((line) => !line.startsWith('> ')).join('\n').replace(/^\n+/, '');
      resolve({ code, stdout: own, stderr });
    });
  });
}

const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';

describe('npm run recover-stuck-runs', () => {
  test('-- --check-only: the seed\'s list (ICP, company, stuck for), nothing changed', async () => {
    const before = await statuses(db.pool);
    const { code, stdout, stderr } = await run('--check-only');
    assert.equal(code, 0, stderr);
    const expected = new RegExp(
      [
        '^⚠️  Found 2 stuck run\\(s\\):',
        '',
        `1\\. Run ID: ${STUCK_AT_30[1]}`,
        '   Status: PENDING',
        '   Progress: 0/5',
        '   ICP: E-commerce SaaS Companies',
        '   Company: Stripe',
        `   Created: ${ISO}`,
        '   Stuck for: 12[01] minutes',
        '',
        `2\\. Run ID: ${STUCK_AT_30[0]}`,
        '   Status: PROCESSING',
        '   Progress: 3/10',
        '   ICP: E-commerce SaaS Companies',
        '   Company: Stripe',
        `   Created: ${ISO}`,
        '   Stuck for: 4[56] minutes',
        '',
        'Run without --check-only to mark them as FAILED\\.',
        '$',
      ].join('\n'),
    );
    assert.match(stdout, expected);
    assert.deepEqual(await statuses(db.pool), before);
  });

  test('no option: marks them FAILED, in the seed\'s words', async () => {
    const { code, stdout, stderr } = await run();
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^✅ Recovered 2 stuck run\(s\):\n\n1\. Run ID: /);
    for (const id of STUCK_AT_30) assert.match(stdout, new RegExp(`Run ID: ${id}\\n   Status: (PENDING|PROCESSING) → FAILED\\n   Progress: \\d+/\\d+\\n   Created: ${ISO}\\n`));
    assert.match(stdout, /\n\nAll stuck runs have been marked as FAILED ✅\n$/);
    const now = await statuses(db.pool);
    assert.deepEqual([now[STUCK_AT_30[0]], now[STUCK_AT_30[1]], now[LIVE]], ['FAILED', 'FAILED', 'PROCESSING']);
    const again = await run();
    assert.equal(again.stdout, '✅ No stuck runs to recover (no activity for 30 minutes).\n');
  });

  test('-- --timeout=60: only the run stuck for two hours', async () => {
    const check = await run('--check-only', '--timeout=60');
    assert.match(check.stdout, /^⚠️  Found 1 stuck run\(s\):/);
    const { code, stdout } = await run('--timeout=60');
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^✅ Recovered 1 stuck run\\(s\\):\\n\\n1\\. Run ID: ${STUCK_AT_30[1]}\\n   Status: PENDING → FAILED\\n   Progress: 0/5\\n`));
    assert.equal((await statuses(db.pool))[STUCK_AT_30[0]], 'PROCESSING');
    assert.equal((await run('--check-only', '--timeout', '500')).stdout, '✅ No stuck runs found (no activity for 500 minutes).\n');
  });

  for (const args of [['--timeout=abc'], ['--timeout=0'], ['--timeout'], ['--dry-run']]) {
    test(`${args.join(' ')}: exit 2, a message on stderr, nothing changed`, async () => {
      const before = await statuses(db.pool);
      const { code, stdout, stderr } = await run(...args);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.match(stderr, /recover-stuck-runs: (timeout must be|--timeout needs|unknown option)/);
      assert.deepEqual(await statuses(db.pool), before);
    });
  }

  test('a database it cannot use (no extension there): exit 2 and the error on stderr', async () => {
    const { code, stdout, stderr } = await runIn({ ...process.env, PGDATABASE: 'postgres' }, '--check-only');
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^recover-stuck-runs: /m);
  });

  test('-- --help', async () => {
    const { code, stdout } = await run('--help');
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: npm run recover-stuck-runs -- \[--check-only\] \[--timeout=MINUTES\]/);
  });
});
