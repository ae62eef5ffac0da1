// Flags that are checked before any connection: --help, --version, usage errors (exit 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from './helpers.mjs';

// No database needed: a usage error must not even try to connect.
const NO_SERVER = { PGHOST: '127.0.0.1', PGPORT: '1' };

test('--help documents every flag and the exit codes, and exits 0', () => {
  for (const flag of ['--help', '-?']) {
    const r = run('postgres', [flag], NO_SERVER);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    for (const text of ['--check-only', '--timeout=MINUTES', '--json', '--table=NAME', '-h, --host', '-p, --port', '-U, --username', '-d, --dbname', 'PGHOST']) {
      assert.ok(r.stdout.includes(text), `help mentions ${text}`);
    }
    assert.match(r.stdout, /Exit status:\n\s+0 .*nothing stuck.*\n\s+1 .*stuck runs found.*recovered\n\s+2 .*error: bad option, connection failure, SQL error/);
  }
});

test('--version', () => {
  const r = run('postgres', ['--version'], NO_SERVER);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^recover-stuck-runs \(recovery\) \d+\.\d+\.\d+\n$/);
});

const USAGE_ERRORS = [
  [['--bogus'], /unknown option '--bogus'/],
  [['-x'], /unknown option '-x'/],
  [['--timeout=0'], /--timeout must be a whole number of minutes from 1 to 525600, got '0'/],
  [['--timeout=-5'], /--timeout must be/],
  [['--timeout=abc'], /--timeout must be/],
  [['--timeout=1.5'], /--timeout must be/],
  [['--timeout=525601'], /--timeout must be/],
  [['--timeout=99999999999999999999'], /--timeout must be/],
  [['--timeout='], /--timeout must be/],
  [['--timeout'], /option '--timeout' requires a value/],
  [['--table='], /--table needs a table name/],
  [['--table'], /option '--table' requires a value/],
  [['-p'], /option '-p' requires a value/],
  [['db1', 'db2'], /too many arguments/],
];

for (const [args, message] of USAGE_ERRORS) {
  test(`usage error ${JSON.stringify(args)} exits 2 without connecting`, () => {
    const r = run('postgres', args, NO_SERVER);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, message);
    assert.match(r.stderr, /Try 'recover-stuck-runs --help'/);
    assert.doesNotMatch(r.stderr, /connection/);
  });
}

test('a timeout with leading zeros is read as decimal', () => {
  // 08 is not octal: it gets as far as connecting (and fails there, exit 2, with a connection error)
  const r = run('postgres', ['--timeout=08', '--check-only'], NO_SERVER);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /connection to server/);
});
