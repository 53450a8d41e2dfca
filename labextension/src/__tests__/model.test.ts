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
  missingRunFields,
  RUN_FIELDS,
  RUN_ID,
  shortLabel
} from '../model';

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
