/**
 * Pure rules about runs shared by the sidebar, the commands and the run-page links.
 * No JupyterLab imports: the unit tests (src/__tests__) run this module under plain node.
 */
import type { IRun } from './tokens';

/** Run ids as the server makes them: 'f' and 19 of [a-z0-9] (service.py RUN_ID). */
export const RUN_ID = /^f[a-z0-9]{19}$/;

/**
 * Every field of a run as the server's API shows it (service.py record_json).
 * `satisfies` keeps this list and the IRun interface in step at compile time; the contract
 * test in tests/server/test_contract.py keeps both in step with the server.
 */
export const RUN_FIELDS = [
  'id',
  'backend',
  'entity',
  'flyte_name',
  'kind',
  'sdk',
  'project',
  'domain',
  'version',
  'status',
  'done',
  'created_at',
  'updated_at',
  'url',
  'page_url',
  'notebook',
  'bundle_digest',
  'bundle_uri',
  'inputs',
  'outputs',
  'error',
  'remote_id',
  'heartbeat_at',
  'lost',
  'lost_note',
  'has_log',
  'events'
] as const satisfies readonly (keyof IRun)[];

type Missing = Exclude<keyof IRun, (typeof RUN_FIELDS)[number]>;
// A compile error here names a field of IRun that RUN_FIELDS leaves out.
const everyField: Missing extends never ? true : Missing = true;
void everyField;

/**
 * The fields of a run the server sent that this extension needs but did not get: a server
 * of another flyte_jupyter version. Empty when the run is complete.
 */
export function missingRunFields(run: unknown): string[] {
  if (typeof run !== 'object' || run === null) {
    return [...RUN_FIELDS];
  }
  return RUN_FIELDS.filter(field => !(field in run));
}

/**
 * A short age: "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago".
 */
export function age(seconds: number): string {
  if (seconds < 5) {
    return 'just now';
  }
  if (seconds < 60) {
    return `${Math.floor(seconds)} s ago`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)} h ago`;
  }
  return `${Math.floor(seconds / 86400)} d ago`;
}

/**
 * A tab label for a run: the task's short name and the start of the run id.
 */
export function shortLabel(
  run: Pick<IRun, 'flyte_name' | 'entity' | 'id'>
): string {
  const name = run.flyte_name.split('.').pop() || run.entity;
  return `${name} · ${run.id.slice(0, 8)}`;
}
