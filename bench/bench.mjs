// The recovery benchmark. Started by bench/run inside a throwaway cluster
// (pg_virtualenv sets PGHOST, PGPORT, PGUSER, PGPASSWORD). See bench/README.md.
//
// Every timed statement is timed by pgbench (-r, per-statement latency, one
// script per repetition holding every compared variant, warmed up first, in
// an order rotated each repetition) or, for the app-style loop, by
// process.hrtime around the loop's queries on an open connection.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

process.env.TZ = 'UTC';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const OUT = process.env.RECOVERY_BENCH_OUT || path.join(HERE, 'out');
const PGBIN = '/usr/lib/postgresql/15/bin';
const ONLY_INSTANCES = process.argv.includes('--instances'); // scenario G alone, on the quick data set
const QUICK = process.argv.includes('--quick') || ONLY_INSTANCES;
const T0 = Date.now();

const LIVE = 5000; // active runs that are alive, in every data set
const CFG = QUICK
  ? {
      main: { rows: 100000, stuck: 5000 },
      series: [20000, 100000],
      mem: { rows: 40000, stuck: 20000 },
      reps: { A: 3, B: 3, C: 5, D: 3, E: 1, breakdown: 3 },
      workerSeconds: 10,
      claims: 5,
      instances: ONLY_INSTANCES ? 10 : 5,
    }
  : {
      main: { rows: 1000000, stuck: 5000 },
      series: [100000, 1000000, 5000000],
      mem: { rows: 200000, stuck: 100000 },
      reps: { A: 15, B: 15, C: 15, D: 11, E: 3, breakdown: 7 },
      workerSeconds: 60,
      claims: 20,
      instances: 10,
    };

fs.mkdirSync(OUT, { recursive: true });
const report = []; // markdown lines of bench/out/report.md
const samples = {}; // raw numbers, bench/out/samples.json
const plansLog = []; // bench/out/plans.txt

// The Targets table of the report (every target met or missed so far).
function sayTargets() {
  say('## Targets');
  say();
  say('| target | goal | measured | |');
  say('|---|---|---|---|');
  for (const l of targets) say(l);
}

function say(line = '') {
  console.log(line);
  report.push(line);
}
function note(line) {
  console.log(line);
}
function elapsed() {
  return `${((Date.now() - T0) / 1000).toFixed(0)} s`;
}

// ---------------------------------------------------------------- statistics
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);
function fmt(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  const a = Math.abs(ms);
  if (a >= 100) return ms.toFixed(0);
  if (a >= 10) return ms.toFixed(1);
  if (a >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}
function fmtx(r) {
  if (!Number.isFinite(r)) return 'n/a';
  return r >= 10 ? `${r.toFixed(1)}x` : `${r.toFixed(2)}x`;
}
// Per-repetition ratios a/b (same repetition, side by side), then the median.
function ratio(a, b) {
  const n = Math.min(a.length, b.length);
  const rs = [];
  for (let i = 0; i < n; i++) rs.push(a[i] / b[i]);
  return median(rs);
}
function rotate(xs, k) {
  const n = xs.length;
  return xs.map((_, i) => xs[(i + k) % n]);
}

// ---------------------------------------------------------------- SQL files
function sqlFile(name) {
  const text = fs.readFileSync(path.join(HERE, 'sql', `${name}.sql`), 'utf8').trim();
  return text.endsWith(';') ? text : `${text};`;
}
const bare = (stmt) => stmt.replace(/;\s*$/, '');
const Q = {
  findExt: sqlFile('find_ext'),
  findHand: sqlFile('find_hand'),
  findSeed: sqlFile('find_seed'),
  recoverExt: sqlFile('recover_ext'),
  // bench/sql/recover_hand.sql, run as the body of bench.recover_hand() (see generate()).
  recoverHand: 'SELECT * FROM bench.recover_hand();',
  recoverHandBody: sqlFile('recover_hand'),
  recoverSeed: sqlFile('recover_seed'),
};
// The minimal statement with the same guarantees (bench/sql/recover_min.sql,
// issue 12 point 5): no rows back, history with a primary key only. What each
// part costs: the minimal statement again with one part changed (the parts
// of recovery.history's indexes, NOTIFY, the lock pass, previous_values), and
// with the recovered rows returned as the extension returns them (run jsonb
// with Z instants), without the Z formatting, without the run. Each is run as
// a SQL function planned as bench.recover_hand() is (see generate()). The
// markers are checked, so an edit of recover_min.sql cannot silently leave a
// variant unchanged.
function without(sql, from, to, put = '') {
  const i = sql.indexOf(from);
  const j = to === null ? sql.length : sql.indexOf(to, i + from.length);
  if (i < 0 || j < 0) throw new Error(`cannot find ${JSON.stringify(from)}`);
  return sql.slice(0, i) + put + sql.slice(j);
}
function historyIn(sql, table) {
  if (!sql.includes('INSERT INTO bench.history_min ')) throw new Error('recover_min.sql: no INSERT INTO bench.history_min');
  return sql.replace('INSERT INTO bench.history_min ', `INSERT INTO ${table} `);
}
const minBody = bare(sqlFile('recover_min'));
const handBody = bare(Q.recoverHandBody);
const minRowsBody = handBody.replace('INSERT INTO bench.history ', 'INSERT INTO bench.history_min ');
if (minRowsBody === handBody) throw new Error('recover_hand.sql: no INSERT INTO bench.history');
// name: [function body, returns the rows (else one count)]
const MIN_VARIANTS = {
  recover_min: [minBody, false],
  min_ext_indexes: [historyIn(minBody, 'bench.history'), false],
  min_old_indexes: [historyIn(minBody, 'bench.history_btrees'), false],
  min_recovered_btree: [historyIn(minBody, 'bench.history_recovered_btree'), false],
  min_recovered_brin: [historyIn(minBody, 'bench.history_recovered_brin'), false],
  min_run_btree: [historyIn(minBody, 'bench.history_run_btree'), false],
  min_run_hash: [historyIn(minBody, 'bench.history_run_hash'), false],
  min_table_btree: [historyIn(minBody, 'bench.history_table_btree'), false],
  min_no_notify: [without(minBody, '\nCROSS JOIN LATERAL (', null), false],
  min_no_lock: [without(minBody, '\n  FOR NO KEY UPDATE OF t SKIP LOCKED', '\n)'), false],
  min_no_previous: [without(minBody, "jsonb_build_object('completedAt', t.\"completedAt\")", ' AS previous_values', 'NULL::jsonb'), false],
  min_rows: [minRowsBody, true],
  min_rows_no_z: [without(minRowsBody, 'to_jsonb(t) ||', ' AS run,', 'to_jsonb(t)'), true],
  min_rows_no_run: [without(minRowsBody, 'to_jsonb(t) ||', ' AS run,', 'NULL::jsonb'), true],
};
Q.recoverMin = 'SELECT * FROM bench.recover_min();';
Q.recoverMinBody = sqlFile('recover_min');
Q.recoverMinRows = 'SELECT * FROM bench.min_rows();';
// The extension without rows back: recover_each_table (one row per table,
// as the worker calls engine::recover_table, with an empty sink).
Q.recoverExtNoRows = "SELECT * FROM recovery.recover_each_table('30 minutes');";

// The same outputs computed and turned to text inside the server, nothing
// sent: the planner cannot skip a column of row::text.
Q.findExtSrv = `SELECT sum(length(f::text)) FROM recovery.find_stuck_runs('30 minutes') AS f;`;
Q.findHandSrv = `SELECT sum(length(h::text)) FROM (${bare(Q.findHand)}) AS h;`;
// A handful stuck: only runs idle for 89 days (about 1% of the stuck ones).
Q.findExtFew = Q.findExt.replace("'30 minutes'", "'89 days'");
Q.findSeedFew = Q.findSeed.replace("INTERVAL '30 minutes'", "INTERVAL '89 days'");
Q.scanOnly = `SELECT count(*) FROM qualification_runs t WHERE t.status IN ('PENDING', 'PROCESSING') AND GREATEST(t."createdAt", t."updatedAt") < (now() AT TIME ZONE 'UTC') - interval '30 minutes';`;

// pgbench command groups: the timed statement is at index `at`.
const plain = (sql) => ({ cmds: [sql], at: 0 });
const inTxn = (sql) => ({ cmds: ['BEGIN;', sql, 'ROLLBACK;'], at: 1 });
const noIndex = (sql) => ({
  cmds: [
    'SET enable_indexscan = off;',
    'SET enable_bitmapscan = off;',
    'SET enable_indexonlyscan = off;',
    sql,
    'RESET enable_indexscan;',
    'RESET enable_bitmapscan;',
    'RESET enable_indexonlyscan;',
  ],
  at: 3,
});

// ---------------------------------------------------------------- processes
function run(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}:\n${out}`)),
    );
  });
}

let scriptSeq = 0;
// Runs `cmds` once (-t 1) in one connection; returns each command's latency (ms).
function pgbench(db, cmds) {
  const file = path.join(OUT, `script-${process.pid}-${scriptSeq++}.sql`);
  fs.writeFileSync(file, `${cmds.join('\n')}\n`);
  const out = run(path.join(PGBIN, 'pgbench'), ['-n', '-t', '1', '-r', '-f', file, db]);
  fs.unlinkSync(file);
  const lines = out.split('\n');
  const start = lines.findIndex((l) => l.startsWith('statement latencies'));
  const lat = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^\s+(\d+\.\d+)\s+(?:\d+\s+){0,2}\S/.exec(l);
    if (!m) break;
    lat.push(Number(m[1]));
  }
  if (start < 0 || lat.length !== cmds.length) {
    throw new Error(`pgbench: expected ${cmds.length} latencies, got ${lat.length}:\n${out}`);
  }
  return lat;
}

// One repetition of side-by-side variants {key: group}: each warmed up once,
// then each timed once, in an order rotated by `rep`. Returns {key: ms}.
function pgbenchRep(db, variants, rep) {
  const keys = Object.keys(variants);
  const cmds = [];
  for (const k of keys) cmds.push(...variants[k].cmds);
  const where = {};
  for (const k of rotate(keys, rep)) {
    where[k] = cmds.length + variants[k].at;
    cmds.push(...variants[k].cmds);
  }
  const lat = pgbench(db, cmds);
  return Object.fromEntries(keys.map((k) => [k, lat[where[k]]]));
}

function record(scenario, key, ms) {
  samples[scenario] ??= {};
  samples[scenario][key] ??= [];
  samples[scenario][key].push(ms);
}

// ---------------------------------------------------------------- database
const pools = new Map();
async function client(db) {
  if (!pools.has(db)) {
    const c = new pg.Client({ database: db, application_name: 'bench' });
    await c.connect();
    c.on('notice', () => {});
    pools.set(db, c);
  }
  return pools.get(db);
}
async function q(db, text, params) {
  return (await client(db)).query(text, params);
}
async function one(db, text, params) {
  return (await q(db, text, params)).rows[0];
}

const dbName = (rows) => `runs_${rows}`;

async function generate(db, rows, stuck) {
  const t = Date.now();
  await runAsync(path.join(PGBIN, 'createdb'), [db]);
  await runAsync(path.join(PGBIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', path.join(ROOT, 'demo', 'seed-schema.sql')]);
  await runAsync(path.join(PGBIN, 'psql'), [
    '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db,
    '-v', `rows=${rows}`, '-v', `stuck=${stuck}`, '-v', `live=${LIVE}`,
    '-f', path.join(HERE, 'sql', 'generate.sql'),
  ]);
  // The hand-written recover statement joins the locked rows back by TID,
  // planned with the settings the extension plans its own statement with (a
  // nested loop of TID lookups, not the index re-read into a hash join): a
  // function's SET clauses are the one way to give one statement its own.
  await q(db, `CREATE FUNCTION bench.recover_hand()
    RETURNS TABLE (run_table text, run_id text, previous_status text, new_status text,
                   started_at timestamptz, stuck_minutes integer, reason text,
                   recovered_at timestamptz, run jsonb, action text)
    LANGUAGE sql SET enable_hashjoin = off SET enable_mergejoin = off
    AS $hand$ ${bare(Q.recoverHandBody)} $hand$`);
  for (const [name, [body, rows]] of Object.entries(MIN_VARIANTS)) {
    await q(db, `CREATE FUNCTION bench.${name}()
      RETURNS TABLE (${rows ? `run_table text, run_id text, previous_status text, new_status text,
                     started_at timestamptz, stuck_minutes integer, reason text,
                     recovered_at timestamptz, run jsonb, action text` : 'recovered bigint'})
      LANGUAGE sql SET enable_hashjoin = off SET enable_mergejoin = off
      AS $min$ ${body} $min$`);
  }
  note(`  generated ${db}: ${rows} runs, ${stuck} stuck, ${LIVE} live (${((Date.now() - t) / 1000).toFixed(1)} s)`);
}

// Back to the generated state, vacuumed; throws if the counts are off.
async function prepare(db, stuck) {
  const r = await one(db, 'SELECT * FROM bench.prepare()');
  await vacuum(db);
  if (Number(r.stuck) !== stuck || Number(r.live) !== LIVE) {
    throw new Error(`${db}: expected ${stuck} stuck and ${LIVE} live runs, found ${r.stuck} and ${r.live}`);
  }
}
async function vacuum(db) {
  await q(db, `VACUUM qualification_runs, recovery.history, bench.history, bench.history_min,
    bench.history_recovered_btree, bench.history_recovered_brin, bench.history_run_btree,
    bench.history_run_hash, bench.history_table_btree, bench.history_btrees`);
}
// Stuck runs must not change during a scenario (every timed change is rolled
// back); a recovery worker committing recoveries would make the numbers moot.
async function checkUnchanged(db, stuck, scenario) {
  const n = Number((await one(db, 'SELECT bench.stuck_count() AS n')).n);
  if (n !== stuck) {
    say(`**WARNING: ${scenario}: ${db} had ${n} stuck runs after the scenario instead of ${stuck} (a recovery worker committing recoveries?): its numbers are not valid.**`);
  }
}

// ---------------------------------------------------------------- report helpers
const rowsOut = []; // the summary table
const targets = []; // [name, target, measured, met]
function tableRow(scenario, variant, rows, xs, vs) {
  rowsOut.push(`| ${scenario} | ${variant} | ${rows} | ${fmt(median(xs))} | ${fmt(quantile(xs, 0.25))}–${fmt(quantile(xs, 0.75))} | ${xs.length} | ${vs ?? ''} |`);
}
function target(name, goal, measured, met) {
  targets.push(`| ${name} | ${goal} | ${measured} | ${met === null ? 'n/a' : met ? '**met**' : '**missed**'} |`);
}
const human = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : `${n}`);

// ---------------------------------------------------------------- phases
async function environment(db) {
  say(`# recovery benchmark${QUICK ? ' (--quick)' : ''}`);
  say();
  say(`- date: ${new Date().toISOString().replace('T', ' ').replace(/\..*/, '')} UTC`);
  const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown';
  say(`- machine: ${os.cpus().length} CPUs (nproc ${run('nproc', []).trim()}), ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  say(`- ${(await one(db, 'SELECT version() AS v')).v}`);
  const ext = await one(db, "SELECT default_version AS extversion FROM pg_available_extensions WHERE name = 'recovery'");
  // bench/run --private: the private tree's pg_config (scripts/lib.sh with_cluster exports PG_CONFIG).
  const pgConfig = process.env.PG_CONFIG && fs.existsSync(process.env.PG_CONFIG) ? process.env.PG_CONFIG : path.join(PGBIN, 'pg_config');
  const so = fs.statSync(run(pgConfig, ['--pkglibdir']).trim() + '/recovery.so');
  say(`- recovery ${ext.extversion}, ${pgConfig.startsWith('/usr/lib/') ? 'installed' : 'private tree (bench/run --private)'}, recovery.so of ${so.mtime.toISOString().replace('T', ' ').replace(/\..*/, '')} UTC; node-postgres ${JSON.parse(fs.readFileSync(path.join(HERE, 'node_modules', 'pg', 'package.json'))).version}`);
  say(`- data: the seed's schema (demo/seed-schema.sql); each data set has ${LIVE} live runs (active, activity seconds ago) and N stuck runs (active, last activity 1 h to 90 days ago, spread over the table); the rest COMPLETED/FAILED. Partial index \`qualification_runs_stuck_idx ON ((GREATEST("createdAt","updatedAt"))) WHERE status IN ('PENDING','PROCESSING')\`.`);
  say(`- timing: pgbench -r per-statement latency (all rows returned to pgbench), every variant warmed up then timed once per repetition in a rotated order; ratios are medians of per-repetition ratios. Changes run in BEGIN … ROLLBACK (BEGIN/ROLLBACK not timed), VACUUM between repetitions.`);
  say();
}

async function settings(db) {
  const names = ['shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size', 'jit', 'jit_above_cost',
    'random_page_cost', 'max_parallel_workers_per_gather', 'wal_level', 'synchronous_commit', 'fsync', 'max_wal_size',
    'checkpoint_timeout', 'TimeZone', 'shared_preload_libraries', 'plan_cache_mode', 'recovery.databases',
    'recovery.enabled', 'recovery.naptime'];
  const settings = await q(db, 'SELECT name, current_setting(name, true) AS v FROM unnest($1::text[]) AS name', [names]);
  say(`- settings during the measurements: ${settings.rows.filter((r) => r.v !== null).map((r) => `${r.name}=${r.v}`).join(', ')}`);
}

async function checks(db, stuck) {
  say('## Checks');
  say();
  await prepare(db, stuck);
  const c = await client(db);

  // Plans: both finds on the partial index; the seed with indexes off scans.
  const plan = async (sql, pre = []) => {
    await c.query('BEGIN');
    for (const p of pre) await c.query(p);
    const r = await c.query(`EXPLAIN (ANALYZE, TIMING OFF, BUFFERS) ${bare(sql)}`);
    await c.query('ROLLBACK');
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  };
  const off = ['SET LOCAL enable_indexscan = off', 'SET LOCAL enable_bitmapscan = off', 'SET LOCAL enable_indexonlyscan = off'];
  const plans = {
    'hand-written find': await plan(Q.findHand),
    'seed SELECT, no index': await plan(Q.findSeed, off),
    'seed SELECT, index allowed': await plan(Q.findSeed),
    'hand-written recover': await plan(Q.recoverHandBody, ['SET LOCAL enable_hashjoin = off', 'SET LOCAL enable_mergejoin = off']),
    'seed bare UPDATE': await plan(Q.recoverSeed),
  };
  // The extension's own statements, as auto_explain sees them.
  const ext = await autoExplain(db, [Q.findExt, Q.recoverExt]);
  plans['recovery.find_stuck_runs (engine statement)'] = ext.filter((e) => e.kind === 'find query').map((e) => e.text).join('\n');
  plans['recovery.recover_stuck_runs (engine statement)'] = ext.filter((e) => e.kind === 'recover query').map((e) => e.text).join('\n');
  for (const [k, v] of Object.entries(plans)) plansLog.push(`===== ${k}\n${v}\n`);
  // Per-node times (EXPLAIN ANALYZE with TIMING ON) of every statement the
  // extension runs, and of the hand-written ones, warmed up first.
  await autoExplain(db, [Q.findExt, Q.findHand, Q.recoverExt, Q.recoverHand]);
  for (const e of await autoExplain(db, [Q.findExt, Q.findHand, Q.recoverExt, Q.recoverHand], { timing: true })) {
    plansLog.push(`===== timed: ${e.kind} of ${e.statement.split('\n')[0]}\n${e.text}\n`);
  }
  const idx = (p) => /qualification_runs_stuck_idx/.test(p);
  const seq = (p) => /Seq Scan on qualification_runs/.test(p);
  say(`- EXPLAIN: engine find uses qualification_runs_stuck_idx: ${idx(plans['recovery.find_stuck_runs (engine statement)']) ? 'yes' : 'NO'}; hand-written find: ${idx(plans['hand-written find']) ? 'yes' : 'NO'}; engine recover: ${idx(plans['recovery.recover_stuck_runs (engine statement)']) ? 'yes' : 'NO'}; hand-written recover: ${idx(plans['hand-written recover']) ? 'yes' : 'NO'}; seed bare UPDATE: ${idx(plans['seed bare UPDATE']) ? 'yes' : 'no'}; seed SELECT with indexes off: ${seq(plans['seed SELECT, no index']) ? 'Seq Scan' : 'NOT a seq scan'}; seed SELECT with indexes allowed: ${idx(plans['seed SELECT, index allowed']) ? 'uses the partial index' : 'no index'} (plans: bench/out/plans.txt)`);

  // Same output: find (one transaction, same now()).
  await c.query('BEGIN');
  const fe = (await c.query(Q.findExt)).rows;
  const fh = (await c.query(Q.findHand)).rows;
  await c.query('COMMIT');
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  say(`- find: extension and hand-written SELECT return the same ${fe.length} rows in the same order: ${same(fe, fh) ? 'yes' : '**NO**'}`);

  // Same output: recover (one transaction, savepoint between).
  const byId = (a, b) => (a.run_id < b.run_id ? -1 : 1);
  await c.query('BEGIN');
  await c.query('SAVEPOINT s');
  const re = (await c.query(Q.recoverExt)).rows.sort(byId);
  await c.query('ROLLBACK TO SAVEPOINT s');
  const rh = (await c.query(Q.recoverHand)).rows.sort(byId);
  await c.query('ROLLBACK TO SAVEPOINT s');
  const rm = (await c.query(Q.recoverMinRows)).rows.sort(byId);
  await c.query('ROLLBACK');
  say(`- recover: extension, hand-written statement and minimal statement with rows return the same ${re.length} rows: ${same(re, rh) && same(re, rm) ? 'yes' : '**NO**'}`);

  // History rows and notifications, committed for real, then put back.
  const listener = new pg.Client({ database: db });
  await listener.connect();
  await listener.query('LISTEN recovery');
  const count = async (sql, history) => {
    let n = 0;
    let payload = null;
    const on = (m) => {
      n++;
      payload ??= m.payload;
    };
    listener.on('notification', on);
    const res = await c.query(sql);
    // The minimal statement returns one row: how many it recovered.
    const rows = res.fields.length === 1 && res.fields[0].name === 'recovered' ? Number(res.rows[0].recovered) : res.rowCount;
    const h = Number((await one(db, `SELECT count(*) AS n FROM ${history}`)).n);
    // One history row, less what differs between two calls.
    const sample = (await one(db, `SELECT to_jsonb(h) - 'id' - 'recovered_at' - 'stuck_minutes' - 'application_name' AS j FROM ${history} h ORDER BY run_id LIMIT 1`))?.j;
    const t = Date.now();
    while (n < rows && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 50));
    listener.off('notification', on);
    await prepare(db, stuck);
    return { rows, h, n, payload, sample: JSON.stringify(sample) };
  };
  const ce = await count(Q.recoverExt, 'recovery.history');
  const ch = await count(Q.recoverHand, 'bench.history');
  const cm = await count(Q.recoverMin, 'bench.history_min');
  const keys = (x) => (x.payload === null ? null : Object.keys(JSON.parse(x.payload)).join());
  say(`- committed recover: extension ${ce.rows} runs, ${ce.h} history rows, ${ce.n} notifications; hand-written ${ch.rows} runs, ${ch.h} history rows, ${ch.n} notifications; minimal ${cm.rows} runs, ${cm.h} history rows, ${cm.n} notifications; payloads alike: ${keys(ce) !== null && keys(ce) === keys(ch) && keys(ce) === keys(cm) ? 'yes' : '**NO**'}; history rows alike: ${ce.sample === ch.sample && ce.sample === cm.sample ? 'yes' : `**NO** (${ce.sample} vs ${ch.sample} vs ${cm.sample})`}`);
  await listener.end();
  const workers = await q(db, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'recovery worker'");
  say(`- recovery worker processes running: ${workers.rowCount} (bench/run starts the cluster with recovery.enabled = off; each scenario checks that the stuck runs did not change under it)`);
  say();
}

// auto_explain on the given statements (each in a rolled-back transaction):
// [{kind, ms, text}] for the engine's nested statements and the top level.
async function autoExplain(db, statements, { timing = false } = {}) {
  const c = new pg.Client({ database: db, application_name: 'bench' });
  await c.connect();
  const notices = [];
  c.on('notice', (n) => notices.push(n.message));
  for (const s of ["LOAD 'auto_explain'", 'SET auto_explain.log_min_duration = 0', 'SET auto_explain.log_nested_statements = on',
    'SET auto_explain.log_analyze = on', `SET auto_explain.log_timing = ${timing ? 'on' : 'off'}`, 'SET auto_explain.log_buffers = on',
    'SET auto_explain.log_level = notice', 'SET client_min_messages = notice']) {
    await c.query(s);
  }
  const out = [];
  for (const s of statements) {
    notices.length = 0;
    await c.query('BEGIN');
    await c.query(s);
    await c.query('ROLLBACK');
    for (const m of notices) {
      const d = /duration: ([\d.]+) ms/.exec(m);
      const text = (/Query Text: (.*)/.exec(m) ?? [])[1] ?? '';
      let kind = 'other';
      if (text !== '' && s.startsWith(text)) kind = 'top';
      else if (text.startsWith('SELECT run_table::')) kind = 'registry';
      else if (text.startsWith('SELECT t.')) kind = 'find query';
      else if (text.startsWith('WITH stuck AS')) kind = 'recover query';
      else if (text.startsWith('INSERT INTO recovery.history')) kind = 'history insert';
      else if (text.startsWith('SELECT 1 FROM')) kind = 'exists';
      out.push({ kind, ms: d ? Number(d[1]) : NaN, text: m, statement: s });
    }
  }
  await c.end();
  return out;
}

// A. find
async function scenarioA(db, rows, stuck) {
  const reps = CFG.reps.A;
  note(`A. find on ${human(rows)} runs (${stuck} stuck), ${reps} repetitions ... [${elapsed()}]`);
  await prepare(db, stuck);
  const variants = {
    ext: plain(Q.findExt),
    hand: plain(Q.findHand),
    seedNoIdx: noIndex(Q.findSeed),
    seedIdx: plain(Q.findSeed),
    extSrv: plain(Q.findExtSrv),
    handSrv: plain(Q.findHandSrv),
    scan: plain(Q.scanOnly),
    extFew: plain(Q.findExtFew),
    seedFewNoIdx: noIndex(Q.findSeedFew),
  };
  for (let r = 0; r < reps; r++) {
    const ms = pgbenchRep(db, variants, r);
    for (const [k, v] of Object.entries(ms)) record('A', k, v);
  }
  await checkUnchanged(db, stuck, 'A');
  const s = samples.A;
  const n = human(rows);
  tableRow('A find', '`recovery.find_stuck_runs(\'30 minutes\')`, rows to client', n, s.ext, '1');
  tableRow('A find', 'hand-written SELECT, same columns, same index, rows to client', n, s.hand, `ext/hand ${fmtx(ratio(s.ext, s.hand))}`);
  tableRow('A find', 'seed SELECT, no index (seq scan), rows to client', n, s.seedNoIdx, `seed/ext ${fmtx(ratio(s.seedNoIdx, s.ext))}`);
  tableRow('A find', 'seed SELECT with the partial index (info)', n, s.seedIdx, `seed/ext ${fmtx(ratio(s.seedIdx, s.ext))}`);
  tableRow('A find', 'extension, `sum(length(f::text))` in server', n, s.extSrv, '');
  tableRow('A find', 'hand-written, `sum(length(h::text))` in server', n, s.handSrv, `ext/hand ${fmtx(ratio(s.extSrv, s.handSrv))}`);
  tableRow('A find', 'index scan only: `count(*)` of the stuck predicate (info)', n, s.scan, `seed no index/this ${fmtx(ratio(s.seedNoIdx, s.scan))}`);
  const few = Number((await one(db, "SELECT count(*) AS n FROM recovery.find_stuck_runs('89 days')")).n);
  tableRow('A find', `find_stuck_runs('89 days'): a handful stuck (${few} runs) (info)`, n, s.extFew, '');
  tableRow('A find', `seed SELECT, '89 days', no index (info)`, n, s.seedFewNoIdx, `seed/ext ${fmtx(ratio(s.seedFewNoIdx, s.extFew))}`);
  const r1 = ratio(s.ext, s.hand);
  target(`A: find vs hand-written SELECT (${n})`, '≤ 1.2x', `${fmtx(r1)} (server-side: ${fmtx(ratio(s.extSrv, s.handSrv))})`, r1 <= 1.2);
  const r2 = ratio(s.seedNoIdx, s.ext);
  target(`A: find vs seed SELECT without index (${n}, ${stuck} stuck)`, '≥ 50x faster', `${fmtx(r2)} faster`, r2 >= 50);
  const r3 = ratio(s.seedFewNoIdx, s.extFew);
  target(`A: the same with ${few} stuck (timeout 89 days) (info)`, '≥ 50x faster', `${fmtx(r3)} faster`, r3 >= 50);
}

// B. recover
// The seed's script: find the stuck runs, then mark each one failed, one
// UPDATE per run over the connection. In one transaction (rolled back: the
// loop's lower bound) or, as the seed's script runs, each UPDATE committed
// on its own (autocommit; the data is put back afterwards, not timed).
async function appLoop(c, { autocommit = false } = {}) {
  if (!autocommit) await c.query('BEGIN');
  const t = process.hrtime.bigint();
  const cutoff = new Date(Date.now() - 30 * 60000);
  const { rows } = await c.query({
    text: `SELECT id, status, "totalProspects", completed, "createdAt" FROM qualification_runs WHERE status IN ('PENDING', 'PROCESSING') AND "createdAt" < $1`,
    values: [cutoff],
  });
  for (const r of rows) {
    await c.query({
      name: 'bench-loop-update',
      text: `UPDATE qualification_runs SET status = 'FAILED', "completedAt" = $2 WHERE id = $1`,
      values: [r.id, new Date()],
    });
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (!autocommit) await c.query('ROLLBACK');
  return { ms, n: rows.length };
}

// Backend CPU time (ms) of each variant of one repetition: the same command
// groups run by node on its own connection, each warmed up, then each timed
// in the rotated order, the `at` command bracketed by the backend's
// /proc/<pid>/schedstat (nanoseconds on a CPU): time spent waiting for a core
// on a shared machine does not count. Rows are read by the client, as
// pgbench reads them. null when /proc/<pid>/schedstat cannot be read.
async function cpuRep(c, pid, variants, rep) {
  const file = `/proc/${pid}/schedstat`;
  if (!fs.existsSync(file)) return null;
  const cpu = () => Number(fs.readFileSync(file, 'utf8').split(' ')[0]) / 1e6;
  const group = async (g) => {
    let ms = NaN;
    for (let i = 0; i < g.cmds.length; i++) {
      if (i !== g.at) {
        await c.query(g.cmds[i]);
        continue;
      }
      const c0 = cpu();
      await c.query(g.cmds[i]);
      ms = cpu() - c0;
    }
    return ms;
  };
  const keys = Object.keys(variants);
  for (const k of keys) await group(variants[k]);
  const out = {};
  for (const k of rotate(keys, rep)) out[k] = await group(variants[k]);
  return out;
}

async function scenarioB(db, rows, stuck) {
  const reps = CFG.reps.B;
  note(`B. recover ${stuck} stuck runs of ${human(rows)}, ${reps} repetitions ... [${elapsed()}]`);
  await prepare(db, stuck);
  const loopClient = new pg.Client({ database: db, application_name: 'bench-app-loop' });
  await loopClient.connect();
  const cpuClient = new pg.Client({ database: db, application_name: 'bench-cpu' });
  await cpuClient.connect();
  const cpuPid = (await cpuClient.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const warm = await appLoop(loopClient);
  if (warm.n !== stuck) throw new Error(`app loop found ${warm.n} stuck runs, expected ${stuck}`);
  await vacuum(db);
  const variants = {
    ext: inTxn(Q.recoverExt),
    extNoRows: inTxn(Q.recoverExtNoRows),
    bare: inTxn(Q.recoverSeed),
    hand: inTxn(Q.recoverHand),
    min: inTxn(Q.recoverMin),
    minRows: inTxn(Q.recoverMinRows),
  };
  for (const name of Object.keys(MIN_VARIANTS)) {
    if (name !== 'recover_min' && name !== 'min_rows') variants[name] = inTxn(`SELECT * FROM bench.${name}();`);
  }
  const loopAuto = async () => {
    const l = await appLoop(loopClient, { autocommit: true });
    if (l.n !== stuck) throw new Error(`app loop (autocommit) found ${l.n} stuck runs, expected ${stuck}`);
    record('B', 'loopAuto', l.ms);
    await prepare(db, stuck);
  };
  for (let r = 0; r < reps; r++) {
    // pgbench's variants, the same timed for backend CPU, the loop in one
    // transaction, the autocommit loop: in a rotated order.
    const steps = [
      async () => {
        const ms = pgbenchRep(db, variants, r);
        for (const [k, v] of Object.entries(ms)) record('B', k, v);
      },
      async () => {
        await vacuum(db);
        const ms = await cpuRep(cpuClient, cpuPid, variants, r);
        for (const [k, v] of Object.entries(ms ?? {})) record('Bcpu', k, v);
      },
      async () => record('B', 'loop', (await appLoop(loopClient)).ms),
      loopAuto,
    ];
    for (const step of rotate(steps, r)) {
      await step();
      await vacuum(db);
    }
  }
  await loopClient.end();
  await cpuClient.end();
  await checkUnchanged(db, stuck, 'B');
  const s = samples.B;
  const sc = samples.Bcpu ?? {};
  const n = human(rows);
  // "a/b 1.23x (CPU 1.20x)": wall-clock ratio of pgbench's timings, then the backend CPU one.
  const both = (a, b, label) => `${label} ${fmtx(ratio(s[a], s[b]))}${sc[a] ? ` (CPU ${fmtx(ratio(sc[a], sc[b]))})` : ''}`;
  const cpuCol = (k) => (sc[k] ? `; CPU ${fmt(median(sc[k]))} ms` : '');
  // What a part costs: the median of per-repetition differences to `base`.
  const cost = (k, base, label) => `${label}: ${fmt(median(s[k].map((v, i) => v - s[base][i])))} ms` +
    (sc[k] ? ` (CPU ${fmt(median(sc[k].map((v, i) => v - sc[base][i])))} ms)` : '');
  tableRow('B recover', '`recovery.recover_stuck_runs(\'30 minutes\')`, rows to client', n, s.ext, `1${cpuCol('ext')}`);
  tableRow('B recover', "seed's bare UPDATE (floor: no history, no notify, no rows back)", n, s.bare, `${both('ext', 'bare', 'ext/bare')}${cpuCol('bare')}`);
  tableRow('B recover', 'minimal statement, rows to client: `recover_min.sql` returning the extension\'s rows (run jsonb, Z instants)', n, s.minRows, `${both('ext', 'minRows', 'ext/minimal')}${cpuCol('minRows')}`);
  tableRow('B recover', 'hand-written: one statement, CTEs (SKIP LOCKED, re-check, history with recovery.history\'s indexes, pg_notify)', n, s.hand, `${both('ext', 'hand', 'ext/hand')}${cpuCol('hand')}`);
  tableRow('B recover', "`recovery.recover_each_table('30 minutes')`: no rows back (one per table; the worker's path)", n, s.extNoRows, `${both('extNoRows', 'bare', 'no rows/bare')}${cpuCol('extNoRows')}`);
  tableRow('B recover', 'minimal statement (`recover_min.sql`: SKIP LOCKED, re-check, history with a primary key only, pg_notify; returns a count)', n, s.min, `${both('extNoRows', 'min', 'no rows/minimal')}; ${both('min', 'bare', 'minimal/bare')}${cpuCol('min')}`);
  tableRow('B recover', 'app-style loop, node-postgres: SELECT, then 1 UPDATE per run, each committed (as the seed script)', n, s.loopAuto, `loop/ext ${fmtx(ratio(s.loopAuto, s.ext))}`);
  tableRow('B recover', 'the same loop inside one transaction (its lower bound)', n, s.loop, `loop/ext ${fmtx(ratio(s.loop, s.ext))}`);
  // The parts, each a variant of the minimal statement timed beside it.
  const part = (k, label, what) => tableRow('B part', label, n, s[k], cost(k, 'min', what));
  part('min_ext_indexes', "… history with recovery.history's indexes (BRIN recovered_at, hash run_id, b-tree (run_table_oid, recovered_at) partial)", 'these indexes');
  part('min_old_indexes', '… history with the indexes before (b-trees: recovered_at; run_table, run_id; run_table_oid, recovered_at partial)', 'the old indexes');
  part('min_recovered_btree', '… history + b-tree (recovered_at)', 'b-tree recovered_at');
  part('min_recovered_brin', '… history + BRIN (recovered_at)', 'BRIN recovered_at');
  part('min_run_btree', '… history + b-tree (run_table, run_id)', 'b-tree run');
  part('min_run_hash', '… history + hash (run_id)', 'hash run_id');
  part('min_table_btree', '… history + b-tree (run_table_oid, recovered_at) WHERE undo_of IS NULL', 'b-tree table');
  part('min_no_notify', '… without pg_notify', 'NOTIFY');
  part('min_no_lock', '… without the SKIP LOCKED lock pass', 'lock pass');
  part('min_no_previous', '… without previous_values (jsonb_build_object)', 'previous_values');
  tableRow('B part', "… returning the extension's rows: run as to_jsonb(t) with Z instants (`minimal, rows to client` above)", n, s.minRows, cost('minRows', 'min', 'rows with run'));
  tableRow('B part', '… the same rows, run as plain to_jsonb(t) (no Z)', n, s.min_rows_no_z, cost('minRows', 'min_rows_no_z', 'Z formatting (3 to_char, ||)'));
  tableRow('B part', '… the same rows without run', n, s.min_rows_no_run, `${cost('min_rows_no_z', 'min_rows_no_run', 'to_jsonb(t)')}; ${cost('min_rows_no_run', 'min', 'rows without run')}`);
  tableRow('B part', 'extension: rows to client (recover_stuck_runs) vs none (recover_each_table)', n, s.ext, cost('ext', 'extNoRows', 'rows with run (built in C++)'));
  const r1 = ratio(s.ext, s.hand);
  target(`B: recover vs same-work hand-written SQL (${n})`, '≤ 1.2x', fmtx(r1), r1 <= 1.2);
  const r2 = ratio(s.loopAuto, s.ext);
  const r3 = ratio(s.loop, s.ext);
  target(`B: recover vs one-by-one loop, autocommit (${n})`, '≥ 20x faster', `${fmtx(r2)} faster`, r2 >= 20);
  target(`B: recover vs one-by-one loop in one transaction (${n})`, '≥ 20x faster', `${fmtx(r3)} faster`, r3 >= 20);
  const cpuOf = (a, b) => (sc[a] ? ` (CPU ${fmtx(ratio(sc[a], sc[b]))})` : '');
  const rb = ratio(s.ext, s.bare);
  target(`B: recover_stuck_runs vs seed's bare UPDATE, rows to client (${n})`, '≤ 2.0x', `${fmtx(rb)}${cpuOf('ext', 'bare')}`, rb <= 2);
  const rm = ratio(s.ext, s.minRows);
  target(`B: recover_stuck_runs vs the minimal statement, rows to client (${n})`, '≤ 1.1x', `${fmtx(rm)}${cpuOf('ext', 'minRows')}`, rm <= 1.1);
  const nb = ratio(s.extNoRows, s.bare);
  target(`B: no rows back (recover_each_table, the worker's path) vs seed's bare UPDATE (${n})`, '≤ 2.0x', `${fmtx(nb)}${cpuOf('extNoRows', 'bare')}`, nb <= 2);
  const nm = ratio(s.extNoRows, s.min);
  target(`B: no rows back vs the minimal statement (${n})`, '≤ 1.1x', `${fmtx(nm)}${cpuOf('extNoRows', 'min')}`, nm <= 1.1);
}

// C. idle cycle
async function scenarioC(db, rows, stuck) {
  const reps = CFG.reps.C;
  note(`C. idle cycle on ${human(rows)} runs, ${reps} repetitions ... [${elapsed()}]`);
  await prepare(db, stuck);
  await q(db, "SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')"); // committed: nothing stuck now
  await q(db, 'TRUNCATE recovery.history');
  await vacuum(db);
  const variants = { ext: plain(Q.recoverExt), extFind: plain(Q.findExt), hand: plain(Q.recoverHand) };
  for (let r = 0; r < reps; r++) {
    const ms = pgbenchRep(db, variants, r);
    for (const [k, v] of Object.entries(ms)) record('C', k, v);
  }
  const left = Number((await one(db, 'SELECT bench.stuck_count() AS n')).n);
  await prepare(db, stuck);
  const s = samples.C;
  const n = human(rows);
  tableRow('C idle', '`recovery.recover_stuck_runs(\'30 minutes\')`, nothing stuck', n, s.ext, '');
  tableRow('C idle', '`recovery.find_stuck_runs(\'30 minutes\')`, nothing stuck', n, s.extFind, '');
  tableRow('C idle', 'hand-written recover statement, nothing stuck (info)', n, s.hand, `ext/hand ${fmtx(ratio(s.ext, s.hand))}`);
  const m = median(s.ext);
  target(`C: idle recovery cycle (${n})`, '< 2 ms', `${fmt(m)} ms${left ? ` (**${left} runs were stuck during it**)` : ''}`, m < 2);
}

// Worker CPU over CFG.workerSeconds at recovery.naptime = 1.
async function workerCpu(dbs) {
  const db = dbs[0];
  const find = async () => (await q(db, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'recovery worker'")).rows.map((r) => r.pid);
  let pids = await find();
  if (pids.length === 0) {
    say('- worker: n/a (not built)');
    target('C: background worker CPU at naptime 1', '(measured)', 'n/a (not built)', null);
    return;
  }
  note(`C'. recovery worker CPU over ${CFG.workerSeconds} s ... [${elapsed()}]`);
  // Nothing stuck anywhere, so the worker only does idle cycles.
  for (const d of dbs) await q(d, "SELECT count(*) FROM recovery.recover_stuck_runs('30 minutes')");
  // bench/run starts the cluster with recovery.enabled = off so the worker
  // stays out of the way of the scenarios; on now, every second.
  let naptime = 'default';
  try {
    await q(db, 'ALTER SYSTEM SET recovery.enabled = on');
    await q(db, 'ALTER SYSTEM SET recovery.naptime = 1');
    await q(db, 'SELECT pg_reload_conf()');
    naptime = '1';
  } catch (e) {
    say(`- worker: could not set recovery.enabled = on, recovery.naptime = 1 (${e.message}); measured as it is`);
  }
  await new Promise((r) => setTimeout(r, 3000));
  pids = await find();
  const hz = Number(run('getconf', ['CLK_TCK']).trim());
  const ticks = (pid) => {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      return Number(rest[11]) + Number(rest[12]); // utime + stime (fields 14, 15)
    } catch {
      return NaN;
    }
  };
  const before = pids.map(ticks);
  const t = Date.now();
  await new Promise((r) => setTimeout(r, CFG.workerSeconds * 1000));
  const secs = (Date.now() - t) / 1000;
  const after = pids.map(ticks);
  const cpu = pids.reduce((a, _, i) => a + (after[i] - before[i]) / hz, 0);
  try {
    await q(db, 'ALTER SYSTEM RESET recovery.naptime');
    await q(db, 'ALTER SYSTEM RESET recovery.enabled');
    await q(db, 'SELECT pg_reload_conf()');
  } catch {
    /* not settable: nothing to reset */
  }
  const pct = (100 * cpu) / secs;
  const cycles = await q(db, "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'recovery worker'");
  say(`- worker: ${pids.length} process(es) ${pids.join(', ')} in database ${db} (${cycles.rows[0].n} now), nothing stuck, naptime ${naptime}: ${cpu.toFixed(2)} s CPU in ${secs.toFixed(0)} s = ${pct.toFixed(2)} % of one core`);
  target(`C: background worker CPU at naptime ${naptime}`, '(measured)', Number.isFinite(cpu) ? `${cpu.toFixed(2)} s / ${secs.toFixed(0)} s (${pct.toFixed(2)} %)` : 'n/a (process vanished)', null);
}

// F. Time to recovery with a claim: a session claims a fresh run and ends;
// the worker (naptime 60 s, so only the exit notice can explain a fast
// recovery) recovers it. Measured from the client's disconnect to the row
// being FAILED, polled every 2 ms.
async function scenarioF(db) {
  const n = CFG.claims;
  note(`F. time to recovery after a claiming session ends, ${n} disconnects ... [${elapsed()}]`);
  await q(db, 'ALTER SYSTEM SET recovery.enabled = on');
  await q(db, 'ALTER SYSTEM SET recovery.naptime = 60');
  await q(db, 'SELECT pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 1500));
  await q(db, 'SELECT recovery.run_worker_now()');
  await new Promise((r) => setTimeout(r, 1500));
  const ids = (await q(db, `SELECT id FROM qualification_runs WHERE status IN ('PENDING', 'PROCESSING')
      AND "createdAt" > (now() AT TIME ZONE 'UTC') - interval '20 minutes' ORDER BY id LIMIT $1`, [n])).rows.map((r) => r.id);
  // Dedicated connections: client(db) is the shared, cached one.
  const connect = async () => {
    const c = new pg.Client({ database: db, application_name: 'bench-claims' });
    await c.connect();
    return c;
  };
  const watcher = await connect();
  const times = [];
  try {
    for (const id of ids) {
      const app = await connect();
      await app.query('SELECT recovery.claim($1::regclass, $2)', ['qualification_runs', id]);
      const t0 = performance.now();
      await app.end();
      for (;;) {
        const { rows } = await watcher.query('SELECT status::text FROM qualification_runs WHERE id = $1', [id]);
        if (rows[0].status === 'FAILED' || performance.now() - t0 > 70000) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      times.push(performance.now() - t0);
    }
  } finally {
    await watcher.end();
    await q(db, 'ALTER SYSTEM RESET recovery.naptime');
    await q(db, 'ALTER SYSTEM RESET recovery.enabled');
    await q(db, 'SELECT pg_reload_conf()');
  }
  for (const ms of times) record('F', 'claim', ms);
  tableRow('F. time to recovery, claimed run, session ends (naptime 60 s)', 'recovery worker', 1, times, '');
  const worst = Math.max(...times);
  say(`- time to recovery after disconnect: median ${fmt(median(times))} ms, max ${fmt(worst)} ms over ${times.length} disconnects (naptime 60 s); the seed waits 30 min, River/Oban/graphile-worker 1-4 h by default`);
  target('F: time to recovery, claimed run whose session ends', '< 1 s (max)', `${fmt(median(times))} ms median, ${fmt(worst)} ms max`, worst < 1000);
}

// G. Time to recovery with app instances, through PgBouncer in transaction
// mode (one server connection for every client, so no backend ever ends):
// an app instance claims a fresh run with its token, then (restart) a new
// incarnation of the same name starts, (stop) it calls instance_stop, or
// (lapse) it goes silent with a 2 s lease. Measured from that moment (for the
// lapse: from its last heartbeat, so the lease is included) to the row being
// FAILED, polled every 2 ms; the worker sleeps 60 s between cycles.
async function scenarioG(db) {
  const n = CFG.instances;
  const pgbouncer = '/usr/sbin/pgbouncer';
  if (!fs.existsSync(pgbouncer)) {
    say(`- G: skipped: ${pgbouncer} is missing (apt-get install pgbouncer)`);
    return;
  }
  note(`G. time to recovery with app instances through PgBouncer, ${n} of each ... [${elapsed()}]`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recovery-bench-pgbouncer-'));
  const port = 46000 + Math.floor(Math.random() * 3000);
  const user = process.env.PGUSER ?? os.userInfo().username;
  fs.writeFileSync(path.join(dir, 'users.txt'), `"${user}" "${process.env.PGPASSWORD ?? ''}"\n`);
  fs.writeFileSync(path.join(dir, 'pgbouncer.ini'), [
    '[databases]',
    `${db} = host=${process.env.PGHOST ?? 'localhost'} port=${process.env.PGPORT} dbname=${db}`,
    '[pgbouncer]', 'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =',
    'auth_type = trust', `auth_file = ${dir}/users.txt`, 'pool_mode = transaction',
    'default_pool_size = 1', 'max_client_conn = 50', `logfile = ${dir}/pgbouncer.log`,
    `pidfile = ${dir}/pgbouncer.pid`, ''].join('\n'));
  // PgBouncer refuses to run as root: as root, it runs as postgres.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) run('chown', ['-R', 'postgres', dir]);
  run(pgbouncer, ['-q', '-d', ...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')]);
  await q(db, 'ALTER SYSTEM SET recovery.enabled = on');
  await q(db, 'ALTER SYSTEM SET recovery.naptime = 60');
  await q(db, 'SELECT pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 1500));
  const pooled = new pg.Client({ host: '127.0.0.1', port, database: db, user, application_name: 'bench-instances' });
  await pooled.connect();
  const watcher = new pg.Client({ database: db, application_name: 'bench-watcher' });
  await watcher.connect();
  let serial = 0;
  const freshRun = async () => {
    const id = `bench-g-${process.pid}-${++serial}`;
    await watcher.query(`INSERT INTO qualification_runs (id, "icpId", status, "createdAt", "totalProspects", completed)
      SELECT $1, id, 'PROCESSING', now() AT TIME ZONE 'UTC', 10, 0 FROM "ICP" LIMIT 1`, [id]);
    return id;
  };
  const until = async (id, t0) => {
    for (;;) {
      const { rows } = await watcher.query('SELECT status::text FROM qualification_runs WHERE id = $1', [id]);
      if (rows[0].status === 'FAILED' || performance.now() - t0 > 70000) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const start = async (lease) =>
    (await pooled.query('SELECT recovery.instance_start($1, $2::interval) AS token', ['bench-app', lease])).rows[0].token;
  const claim = (id, token) =>
    pooled.query('SELECT recovery.claim($1::regclass, $2, instance => $3)', ['qualification_runs', id, token]);
  const times = { restart: [], stop: [], lapse: [] };
  try {
    for (let i = 0; i < n; i++) {
      let id = await freshRun();
      let token = await start('30 seconds');
      await claim(id, token);
      let t0 = performance.now();
      token = await start('30 seconds'); // the app server restarted
      times.restart.push(await until(id, t0));
      id = await freshRun();
      await claim(id, token);
      t0 = performance.now();
      await pooled.query('SELECT recovery.instance_stop($1)', [token]);
      times.stop.push(await until(id, t0));
      id = await freshRun();
      t0 = performance.now(); // the last heartbeat: the start itself
      token = await start('2 seconds');
      await claim(id, token);
      times.lapse.push(await until(id, t0));
    }
  } finally {
    await pooled.end();
    await watcher.end();
    try {
      process.kill(Number(fs.readFileSync(path.join(dir, 'pgbouncer.pid'), 'utf8')), 'SIGTERM');
    } catch {
      /* already gone */
    }
    fs.rmSync(dir, { recursive: true, force: true });
    await q(db, 'ALTER SYSTEM RESET recovery.naptime');
    await q(db, 'ALTER SYSTEM RESET recovery.enabled');
    await q(db, 'SELECT pg_reload_conf()');
  }
  const label = { restart: 'a new incarnation starts', stop: 'instance_stop', lapse: 'silent, lease 2 s (from its last heartbeat)' };
  const goal = { restart: 1000, stop: 1000, lapse: 3000 };
  for (const k of Object.keys(times)) {
    for (const ms of times[k]) record('G', k, ms);
    tableRow(`G. time to recovery, instance claim via PgBouncer (transaction mode): ${label[k]}`, 'recovery worker', 1, times[k], '');
    const worst = Math.max(...times[k]);
    say(`- G ${k}: median ${fmt(median(times[k]))} ms, max ${fmt(worst)} ms over ${times[k].length} (naptime 60 s)`);
    target(`G: time to recovery through PgBouncer, ${label[k]}`, `< ${goal[k] / 1000} s (max)`,
      `${fmt(median(times[k]))} ms median, ${fmt(worst)} ms max`, worst < goal[k]);
  }
}

// D. scale series (interleaved: every data set in each repetition)
async function scenarioD(series, stuck) {
  const reps = CFG.reps.D;
  note(`D. scale series ${series.map(human).join(' / ')}, ${reps} repetitions ... [${elapsed()}]`);
  for (const rows of series) await prepare(dbName(rows), stuck);
  const variants = { find: plain(Q.findExt), findHand: plain(Q.findHand), recover: inTxn(Q.recoverExt), recoverHand: inTxn(Q.recoverHand) };
  for (let r = 0; r < reps; r++) {
    for (const rows of rotate(series, r)) {
      const ms = pgbenchRep(dbName(rows), variants, r);
      for (const [k, v] of Object.entries(ms)) record(`D${rows}`, k, v);
      await vacuum(dbName(rows));
    }
  }
  for (const rows of series) await checkUnchanged(dbName(rows), stuck, `D ${human(rows)}`);
  const lo = samples[`D${series[0]}`];
  const hi = samples[`D${series[series.length - 1]}`];
  for (const rows of series) {
    const s = samples[`D${rows}`];
    tableRow('D scale', 'find_stuck_runs', human(rows), s.find, `vs ${human(series[0])}: ${fmtx(ratio(s.find, lo.find))}; ext/hand ${fmtx(ratio(s.find, s.findHand))}`);
  }
  for (const rows of series) {
    const s = samples[`D${rows}`];
    tableRow('D scale', 'recover_stuck_runs', human(rows), s.recover, `vs ${human(series[0])}: ${fmtx(ratio(s.recover, lo.recover))}; ext/hand ${fmtx(ratio(s.recover, s.recoverHand))}`);
  }
  const span = `${human(series[0])} → ${human(series[series.length - 1])}`;
  const rf = ratio(hi.find, lo.find);
  target(`D: find, ${span} rows (${stuck} stuck)`, 'within 2x', fmtx(rf), rf <= 2);
  const rr = ratio(hi.recover, lo.recover);
  target(`D: recover, ${span} rows (${stuck} stuck)`, 'within 2x', fmtx(rr), rr <= 2);
}

// E. backend memory for one big recovery
function procStatus(pid) {
  const f = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(f) ?? [])[1]);
  return { hwm: kb('VmHWM'), rss: kb('VmRSS'), anon: kb('RssAnon'), shmem: kb('RssShmem') };
}
let serverLog = null; // pg_virtualenv's server log, for pg_log_backend_memory_contexts
async function findServerLog(db) {
  const dir = (await one(db, 'SHOW data_directory')).data_directory;
  const m = /^(.*)\/data\/(\d+)\/([^/]+)$/.exec(dir);
  const f = m && path.join(m[1], 'log', `postgresql-${m[2]}-${m[3]}.log`);
  // bench/run --private: scripts/lib.sh with_cluster logs to server.log beside data/.
  const g = path.join(path.dirname(dir), 'server.log');
  serverLog = f && fs.existsSync(f) ? f : fs.existsSync(g) ? g : null;
}
// The memory-context dumps of `pid` written since byte `from`: the one with
// the largest grand total, summarized by context name.
function largestDump(pid, from) {
  if (!serverLog) return '';
  const fd = fs.openSync(serverLog, 'r');
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(Math.max(0, size - from));
  fs.readSync(fd, buf, 0, buf.length, from);
  fs.closeSync(fd);
  const dumps = [];
  let cur = null;
  for (const line of buf.toString('utf8').split('\n')) {
    if (!line.includes(`[${pid}]`)) continue;
    if (line.includes('logging memory contexts of PID')) {
      cur = { total: 0, byName: {} };
      dumps.push(cur);
      continue;
    }
    const m = /LOG:\s+level: \d+; ([^:]+): (\d+) total/.exec(line);
    if (m && cur) {
      const e = (cur.byName[m[1]] ??= { bytes: 0, n: 0 });
      e.bytes += Number(m[2]);
      e.n++;
    }
    const g = /Grand total: (\d+) bytes/.exec(line);
    if (g && cur) cur.total = Number(g[1]);
  }
  if (dumps.length === 0) return '';
  const top = dumps.reduce((a, b) => (b.total > a.total ? b : a));
  const mb = (b) => (b / 2 ** 20).toFixed(1);
  return `largest of ${dumps.length} pg_log_backend_memory_contexts dumps during the call: ${mb(top.total)} MB = ` +
    Object.entries(top.byName)
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .slice(0, 4)
      .map(([name, e]) => `${name}${e.n > 1 ? ` ×${e.n}` : ''} ${mb(e.bytes)} MB`)
      .join(', ');
}

async function memoryOnce(db, sql) {
  const c = new pg.Client({ database: db, application_name: 'bench-mem' });
  await c.connect();
  const mon = new pg.Client({ database: db, application_name: 'bench-mem-monitor' });
  await mon.connect();
  const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  // Catalogs and plans warm, nothing recovered.
  await c.query("SELECT count(*) FROM recovery.find_stuck_runs('1000 years')");
  await c.query(`EXPLAIN ${bare(sql)}`);
  await c.query('BEGIN');
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // VmHWM := VmRSS
  const before = procStatus(pid);
  const logFrom = serverLog ? fs.statSync(serverLog).size : 0;
  // Peak private memory, sampled every 2 ms; whenever it has grown by a
  // tenth since the last look, the backend is asked to log its memory
  // contexts (pg_log_backend_memory_contexts), to see where the memory is.
  let peakAnon = before.anon;
  let dumpedAt = before.anon;
  let dumping = false;
  const timer = setInterval(() => {
    let anon;
    try {
      anon = procStatus(pid).anon;
    } catch {
      return; // gone
    }
    peakAnon = Math.max(peakAnon, anon);
    if (!dumping && anon > dumpedAt * 1.1 + 1024) {
      dumping = true;
      dumpedAt = anon;
      mon.query('SELECT pg_log_backend_memory_contexts($1)', [pid]).catch(() => {}).finally(() => (dumping = false));
    }
  }, 2);
  const t = process.hrtime.bigint();
  const res = await c.query(sql);
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  clearInterval(timer);
  const after = procStatus(pid);
  peakAnon = Math.max(peakAnon, after.anon);
  await c.query('ROLLBACK');
  await c.end();
  await mon.end();
  await new Promise((r) => setTimeout(r, 300)); // let the log catch up
  return {
    rows: res.rowCount,
    ms,
    hwmGrowth: (after.hwm - before.rss) / 1024,
    anonGrowth: (peakAnon - before.anon) / 1024,
    anonEnd: (after.anon - before.anon) / 1024,
    contexts: largestDump(pid, logFrom),
  };
}
async function scenarioE(rows, stuck) {
  const db = `mem_${rows}`;
  const reps = CFG.reps.E;
  await findServerLog(db);
  note(`E. memory: recover ${stuck} stuck runs in one call, ${reps} repetitions ... [${elapsed()}]`);
  await prepare(db, stuck);
  const variants = { ext: Q.recoverExt, hand: Q.recoverHand, bare: Q.recoverSeed };
  const res = {};
  for (let r = 0; r < reps; r++) {
    for (const k of rotate(Object.keys(variants), r)) {
      const m = await memoryOnce(db, variants[k]);
      (res[k] ??= []).push(m);
      record('E', `${k}.anonGrowthMB`, m.anonGrowth);
      record('E', `${k}.hwmGrowthMB`, m.hwmGrowth);
      record('E', `${k}.ms`, m.ms);
      await vacuum(db);
    }
  }
  await checkUnchanged(db, stuck, 'E');
  const names = {
    ext: '`recover_stuck_runs`',
    hand: 'hand-written same-work statement',
    bare: "seed's bare UPDATE",
  };
  for (const k of Object.keys(variants)) {
    const a = median(res[k].map((m) => m.anonGrowth));
    const h = median(res[k].map((m) => m.hwmGrowth));
    const t = median(res[k].map((m) => m.ms));
    rowsOut.push(`| E memory | ${names[k]}: ${res[k][0].rows} runs in one call | ${human(rows)} | ${fmt(t)} | private (RssAnon) peak growth ${a.toFixed(1)} MB; VmHWM growth ${h.toFixed(1)} MB | ${res[k].length} | ${res[k][0].contexts} |`);
  }
  const a = median(res.ext.map((m) => m.anonGrowth));
  const h = median(res.ext.map((m) => m.hwmGrowth));
  target(`E: backend memory growth, ${stuck} runs in one call`, '< 64 MB', `${a.toFixed(1)} MB private peak (VmHWM incl. shared buffers touched: ${h.toFixed(1)} MB)`, a < 64);
}

// Where the extension's time goes: its nested statements (auto_explain, analyze, timing off).
async function breakdown(db, stuck) {
  const reps = CFG.reps.breakdown;
  note(`Breakdown of the extension's statements (auto_explain), ${reps} repetitions ... [${elapsed()}]`);
  await prepare(db, stuck);
  const acc = {};
  const order = [Q.findExt, Q.findHand, Q.recoverExt, Q.recoverHand];
  await autoExplain(db, order); // warm-up
  for (let r = 0; r < reps; r++) {
    const ex = await autoExplain(db, [...rotate(order.slice(0, 2), r), ...rotate(order.slice(2), r)]);
    const who = { [Q.findExt]: 'find ext', [Q.findHand]: 'find hand', [Q.recoverExt]: 'recover ext', [Q.recoverHand]: 'recover hand' };
    const sums = {}; // per (statement, kind), summed within this repetition
    for (const e of ex) {
      const key = `${who[e.statement]}|${e.kind}`;
      sums[key] = (sums[key] ?? 0) + e.ms;
    }
    for (const [k, v] of Object.entries(sums)) (acc[k] ??= []).push(v);
    await vacuum(db);
  }
  await checkUnchanged(db, stuck, 'breakdown');
  const m = (k) => median(acc[k] ?? [NaN]);
  const lines = [];
  lines.push('| statement | in-server total | engine SQL statement | history INSERTs | registry lookup | C++/SPI/tuplestore/NOTIFY rest |');
  lines.push('|---|---|---|---|---|---|');
  const fe = m('find ext|top');
  const fq = m('find ext|find query');
  const fr = m('find ext|registry');
  lines.push(`| find_stuck_runs | ${fmt(fe)} | ${fmt(fq)} (find query) | – | ${fmt(fr)} | ${fmt(fe - fq - fr)} |`);
  lines.push(`| hand-written find | ${fmt(m('find hand|top'))} | – | – | – | – |`);
  const re = m('recover ext|top');
  const rq = m('recover ext|recover query');
  const rh = m('recover ext|history insert');
  const rr = m('recover ext|registry');
  lines.push(`| recover_stuck_runs | ${fmt(re)} | ${fmt(rq)} (UPDATE … RETURNING) | ${fmt(rh)} | ${fmt(rr)} | ${fmt(re - rq - rh - rr)} |`);
  lines.push(`| hand-written recover | ${fmt(m('recover hand|top'))} | – | – | – | – |`);
  samples.breakdown = acc;
  return lines;
}

// ---------------------------------------------------------------- main
async function main() {
  const series = CFG.series;
  const main = CFG.main;
  if (!series.includes(main.rows)) throw new Error('the main data set must be one of the series');
  await client('postgres');
  await environment('postgres');

  note(`Generating data ... [${elapsed()}]`);
  // Two lanes (2 cores): the biggest set alone, the rest one after another.
  const big = Math.max(...series);
  const rest = [...series.filter((r) => r !== big).map((r) => () => generate(dbName(r), r, main.stuck)),
    () => generate(`mem_${CFG.mem.rows}`, CFG.mem.rows, CFG.mem.stuck)];
  const tg = Date.now();
  await Promise.all([
    generate(dbName(big), big, main.stuck),
    (async () => {
      for (const f of rest) await f();
    })(),
  ]);
  say(`- data generated in ${((Date.now() - tg) / 1000).toFixed(0)} s (with fsync off, as pg_virtualenv sets it)`);
  // Measured with fsync on, as a production server runs: commits (the
  // app-style loop's, one per UPDATE) wait for the WAL flush.
  await q('postgres', 'ALTER SYSTEM SET fsync = on');
  await q('postgres', 'SELECT pg_reload_conf()');
  await new Promise((r) => setTimeout(r, 500));
  await settings('postgres');
  say();

  const db = dbName(main.rows);
  if (ONLY_INSTANCES) {
    say('## Worker');
    say();
    await scenarioG(db);
    say();
    sayTargets();
    fs.writeFileSync(path.join(OUT, 'report.md'), `${report.join('\n')}\n`);
    fs.writeFileSync(path.join(OUT, 'samples.json'), `${JSON.stringify(samples, null, 1)}\n`);
    for (const c of pools.values()) await c.end();
    return;
  }
  await checks(db, main.stuck);
  await scenarioA(db, main.rows, main.stuck);
  await scenarioB(db, main.rows, main.stuck);
  await scenarioC(db, main.rows, main.stuck);
  await scenarioD(series, main.stuck);
  await scenarioE(CFG.mem.rows, CFG.mem.stuck);
  const bd = await breakdown(db, main.stuck);
  say('## Results');
  say();
  say('Times in ms: median and interquartile range over the repetitions (n); ratios are medians of per-repetition ratios.');
  say();
  say('| scenario | variant | runs in table | median ms | q1–q3 | n | ratio |');
  say('|---|---|---|---|---|---|---|');
  for (const l of rowsOut) say(l);
  say();
  say(`## Worker`);
  say();
  await workerCpu([db, ...series.filter((r) => r !== main.rows).map(dbName), `mem_${CFG.mem.rows}`]);
  await scenarioF(db);
  await scenarioG(db);
  say();
  sayTargets();
  say();
  say(`## Where the extension's time goes (${human(main.rows)} runs, ${main.stuck} stuck; auto_explain, ANALYZE with TIMING OFF; ms, medians of ${CFG.reps.breakdown})`);
  say();
  for (const l of bd) say(l);
  say();
  say(`- load average at end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; benchmark time ${elapsed()} (cluster set-up and removal not included)`);

  await q('postgres', 'ALTER SYSTEM RESET fsync'); // quick shutdown of the throwaway cluster
  await q('postgres', 'SELECT pg_reload_conf()');
  fs.writeFileSync(path.join(OUT, 'report.md'), `${report.join('\n')}\n`);
  fs.writeFileSync(path.join(OUT, 'samples.json'), `${JSON.stringify(samples, null, 1)}\n`);
  fs.writeFileSync(path.join(OUT, 'plans.txt'), plansLog.join('\n'));
  note(`\nWritten: bench/out/report.md, bench/out/samples.json, bench/out/plans.txt`);
  for (const c of pools.values()) await c.end();
}

main().catch((e) => {
  console.error(e.stack ?? e);
  process.exit(1);
});
