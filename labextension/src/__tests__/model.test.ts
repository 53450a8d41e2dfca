/**
 * Unit tests of the pure run rules, under node's own test runner (`jlpm test`).
 * tests/contract/run.json is a run exactly as the server's API serves it (kept so by
 * tests/server/test_contract.py).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  age,
  duration,
  filtering,
  matchesFilter,
  missingRunFields,
  NO_FILTER,
  notebookName,
  notebooksOf,
  rerunCommand,
  rerunnable,
  RUN_FIELDS,
  RUN_ID,
  runSeconds,
  shortLabel
} from '../model';
import type { IRun } from '../tokens';

const CONTRACT = join(
  __dirname,
  '..',
  '..',
  '..',
  'tests',
  'contract',
  'run.json'
);
const served = JSON.parse(readFileSync(CONTRACT, 'utf-8')) as Record<
  string,
  unknown
>;

test('a run as the server serves it has every field the sidebar reads', () => {
  assert.deepEqual(missingRunFields(served), []);
  assert.deepEqual([...RUN_FIELDS].sort(), Object.keys(served).sort());
});

test('a run from another server version is recognised, naming what it lacks', () => {
  const older: Record<string, unknown> = { ...served };
  delete older.lost;
  delete older.heartbeat_at;
  assert.deepEqual(missingRunFields(older), ['heartbeat_at', 'lost']);
  assert.equal(missingRunFields(null).length, RUN_FIELDS.length);
});

test('run ids follow the server rule', () => {
  assert.ok(RUN_ID.test(String(served.id)));
  assert.ok(RUN_ID.test('f0123456789abcdefghi'));
  for (const bad of [
    'F0123456789abcdefghi',
    'f0123',
    'f0123456789abcdefghij',
    'f../../etc/pass'
  ]) {
    assert.equal(RUN_ID.test(bad), false, bad);
  }
});

test('ages read as people say them', () => {
  assert.equal(age(0), 'just now');
  assert.equal(age(42.9), '42 s ago');
  assert.equal(age(301), '5 min ago');
  assert.equal(age(3 * 3600 + 5), '3 h ago');
  assert.equal(age(2 * 86400), '2 d ago');
});

test('a tab label is the short task name and the start of the id', () => {
  assert.equal(
    shortLabel({
      flyte_name: 'nb_demo.square',
      entity: 'square',
      id: 'fcontract00000000001'
    }),
    'square · fcontrac'
  );
  assert.equal(
    shortLabel({ flyte_name: '', entity: 'wf', id: 'fabc' }),
    'wf · fabc'
  );
});

test('durations read as people say them', () => {
  assert.equal(duration(0.42), '0.4 s');
  assert.equal(duration(42.9), '42 s');
  assert.equal(duration(185), '3 min 5 s');
  assert.equal(duration(180), '3 min');
  assert.equal(duration(2 * 3600 + 180), '2 h 3 min');
  assert.equal(duration(2 * 86400 + 4 * 3600), '2 d 4 h');
  assert.equal(duration(-3), '0.0 s');
});

test('an ended run took until its last change; an active one until now', () => {
  const ended = { created_at: 100, updated_at: 130, done: true };
  assert.equal(runSeconds(ended, 500), 30);
  assert.equal(runSeconds({ ...ended, done: false }, 500), 400);
});

test('a rerun line launches the same task with the recorded inputs', () => {
  const run = {
    entity: 'greet',
    inputs: { name: "'bob'", n: '3' },
    project: 'flytesnacks',
    domain: 'development',
    backend: 'local'
  };
  assert.equal(
    rerunCommand(run),
    "%flyte_run --project flytesnacks --domain development greet(name='bob', n=3)"
  );
  assert.equal(
    rerunCommand({ ...run, entity: 'wf', inputs: {}, backend: 'remote' }),
    '%flyte_run --project flytesnacks --domain development --backend remote wf()'
  );
});

test('filters: status groups, notebook and words', () => {
  const run = served as unknown as IRun;
  const active = { ...run, status: 'RUNNING', done: false } as IRun;
  assert.ok(matchesFilter(run, NO_FILTER));
  assert.equal(filtering(NO_FILTER), false);
  assert.ok(matchesFilter(active, { ...NO_FILTER, status: 'active' }));
  assert.equal(matchesFilter(run, { ...NO_FILTER, status: 'active' }), false);
  assert.ok(matchesFilter(run, { ...NO_FILTER, status: 'SUCCEEDED' }));
  assert.equal(matchesFilter(run, { ...NO_FILTER, status: 'FAILED' }), false);
  assert.ok(matchesFilter(run, { ...NO_FILTER, notebook: '/work/demo.ipynb' }));
  assert.equal(
    matchesFilter(run, { ...NO_FILTER, notebook: '/x.ipynb' }),
    false
  );
  assert.ok(matchesFilter(run, { ...NO_FILTER, text: 'SQUARE v0123' }));
  assert.equal(
    matchesFilter(run, { ...NO_FILTER, text: 'square cube' }),
    false
  );
  assert.ok(filtering({ ...NO_FILTER, text: 'x' }));
});

test('notebooks are listed once, by file name', () => {
  const run = served as unknown as IRun;
  const runs = [
    { ...run, notebook: '/b/zeta.ipynb' },
    { ...run, notebook: '/a/alpha.ipynb' },
    { ...run, notebook: '/b/zeta.ipynb' },
    { ...run, notebook: null }
  ];
  assert.deepEqual(notebooksOf(runs), ['/a/alpha.ipynb', '/b/zeta.ipynb']);
  assert.equal(notebookName('analysis/Quick Start.ipynb'), 'Quick Start.ipynb');
  assert.equal(notebookName('C:\\work\\x.ipynb'), 'x.ipynb');
  assert.equal(notebookName(null), '');
});

test('a run is rerun from its notebook only when its inputs were recorded whole', () => {
  assert.equal(rerunnable({ inputs: { x: '7', name: "'bob'" } }), true);
  assert.equal(rerunnable({ inputs: {} }), true);
  assert.equal(rerunnable({ inputs: { data: '[1, 2, 3, 4, …' } }), false);
});
