// Connection options (-h -p -U -d, long forms, DBNAME, PG* variables) and
// the errors that are not usage errors (exit 2).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { createDatabase, dropDatabase, psql, run, seed } from './helpers.mjs';

let db;
before(() => {
  db = createDatabase('conn');
  psql(db, `SELECT recovery.watch('qualification_runs')`);
  seed(db);
});
after(() => dropDatabase(db));

const { PGHOST, PGPORT, PGUSER } = process.env;
// libpq's variables removed: only the options say where to connect (PGPASSWORD stays).
const NO_PG_ENV = { PGHOST: undefined, PGPORT: undefined, PGUSER: undefined, PGDATABASE: undefined };

test('-h -p -U -d', () => {
  const r = run(db, ['--check-only', '-h', PGHOST, '-p', PGPORT, '-U', PGUSER, '-d', db], NO_PG_ENV);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /Found 2 stuck run/);
});

test('-hHOST -pPORT -UUSER -dDB (attached values)', () => {
  const r = run(db, ['--check-only', `-h${PGHOST}`, `-p${PGPORT}`, `-U${PGUSER}`, `-d${db}`], NO_PG_ENV);
  assert.equal(r.status, 1, r.stderr);
});

test('--host= --port= --username= --dbname= and the spaced forms', () => {
  const r = run(db, ['--check-only', `--host=${PGHOST}`, `--port=${PGPORT}`, `--username=${PGUSER}`, `--dbname=${db}`], NO_PG_ENV);
  assert.equal(r.status, 1, r.stderr);
  const s = run(db, ['--check-only', '--host', PGHOST, '--port', PGPORT, '--username', PGUSER, '--dbname', db], NO_PG_ENV);
  assert.equal(s.status, 1, s.stderr);
});

test('a trailing DBNAME, and a connection string', () => {
  assert.equal(run(db, ['--check-only', db], { PGDATABASE: 'postgres' }).status, 1);
  const uri = `postgresql://${PGUSER}@${PGHOST}:${PGPORT}/${db}`;
  assert.equal(run(db, ['--check-only', '-d', uri], NO_PG_ENV).status, 1);
});

test('PG* variables alone', () => {
  const r = run(db, ['--check-only'], { PGHOST, PGPORT, PGUSER, PGDATABASE: db });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /Found 2 stuck run/);
});

test('PGAPPNAME is kept when set', () => {
  const r = run(db, ['--timeout=100'], { PGAPPNAME: 'nightly-cron' });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(psql(db, `SELECT application_name FROM recovery.history ORDER BY id DESC LIMIT 1`), 'nightly-cron');
});

async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('connection failure: exit 2 with libpq message', async () => {
  const port = await closedPort();
  const r = run(db, ['--check-only', '-h', '127.0.0.1', '-p', String(port)]);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^recover-stuck-runs: connection to server at "127\.0\.0\.1", port \d+ failed/);
});

test('unknown database or role: exit 2', () => {
  assert.equal(run(db, ['--check-only', '-d', 'no_such_database']).status, 2);
  const r = run(db, ['--check-only', '-U', 'no_such_role']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no_such_role/);
});

test('a database without the extension: exit 2 with a hint', () => {
  const r = run('postgres', ['--check-only'], { PGDATABASE: 'template1' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /the recovery extension is not installed in database "template1"/);
  assert.match(r.stderr, /HINT: +CREATE EXTENSION recovery/);
});

test('nothing watched: exit 0 with a note on stderr', () => {
  const empty = createDatabase('conn_empty');
  try {
    const r = run(empty, ['--check-only']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /note: no table is watched/);
    assert.match(r.stdout, /No stuck runs found/);
  } finally {
    dropDatabase(empty);
  }
});
