/**
 * Pure rules about runs shared by the sidebar, the commands and the run-page links.
 * No JupyterLab imports: the unit tests (src/__tests__) run this module under plain node.
 */
import type { IRun, RunStatus } from './tokens';

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
  'notebook_path',
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

/**
 * A short duration: "0.4 s", "42 s", "3 min 5 s", "2 h 3 min", "2 d 4 h".
 */
export function duration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 10) {
    return `${(Math.floor(s * 10) / 10).toFixed(1)} s`;
  }
  if (s < 60) {
    return `${Math.floor(s)} s`;
  }
  if (s < 3600) {
    const rest = Math.floor(s % 60);
    return rest ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  if (s < 86400) {
    const rest = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)} h${rest ? ` ${rest} min` : ''}`;
  }
  const rest = Math.floor((s % 86400) / 3600);
  return `${Math.floor(s / 86400)} d${rest ? ` ${rest} h` : ''}`;
}

/**
 * How long a run has taken: until its last change once it ended, until `now` before.
 */
export function runSeconds(
  run: Pick<IRun, 'created_at' | 'updated_at' | 'done'>,
  now: number
): number {
  return (run.done ? run.updated_at : now) - run.created_at;
}

/** A notebook path's file name ("analysis/Quick Start.ipynb" -> "Quick Start.ipynb"). */
export function notebookName(path: string | null): string {
  if (!path) {
    return '';
  }
  return (
    path
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? path
  );
}

/**
 * The `%flyte_run` line that launches the run's entity again with its recorded project,
 * domain, backend and inputs: the run page's line (server/view.py magic_line) without the
 * image, which only the run's folder records. Inputs are recorded as Python reprs, cut at
 * 200 characters: a cut one ends with "…" and must be completed by hand.
 */
export function rerunCommand(
  run: Pick<IRun, 'entity' | 'inputs' | 'project' | 'domain' | 'backend'>
): string {
  const options = [`--project ${run.project}`, `--domain ${run.domain}`];
  if (run.backend !== 'local') {
    options.push(`--backend ${run.backend}`);
  }
  const args = Object.entries(run.inputs)
    .map(([name, value]) => `${name}=${value}`)
    .join(', ');
  return `%flyte_run ${options.join(' ')} ${run.entity}(${args})`;
}

/**
 * Whether :func:`rerunCommand` gives the run's inputs whole (the run store keeps each input's
 * repr cut at 200 characters, ending with "…" when cut).
 */
export function rerunnable(run: Pick<IRun, 'inputs'>): boolean {
  return Object.values(run.inputs).every(value => !value.endsWith('…'));
}

/** What the sidebar shows: runs of one status group and notebook, matching a text. */
export interface IRunFilter {
  /** '' for every status, 'active' for queued or running, else one status. */
  status: '' | 'active' | RunStatus;
  /** '' for every notebook, else a notebook path as runs record it. */
  notebook: string;
  /** Words that must all appear in the entity, Flyte name, id, version or domain. */
  text: string;
}

export const NO_FILTER: IRunFilter = { status: '', notebook: '', text: '' };

/** Whether any part of the filter is set. */
export function filtering(filter: IRunFilter): boolean {
  return Boolean(filter.status || filter.notebook || filter.text.trim());
}

/** Whether a run passes the filter. */
export function matchesFilter(run: IRun, filter: IRunFilter): boolean {
  if (
    filter.status === 'active'
      ? run.done
      : filter.status && run.status !== filter.status
  ) {
    return false;
  }
  if (filter.notebook && run.notebook !== filter.notebook) {
    return false;
  }
  const haystack = [run.entity, run.flyte_name, run.id, run.version, run.domain]
    .join(' ')
    .toLowerCase();
  return filter.text
    .toLowerCase()
    .split(/\s+/)
    .filter(word => word)
    .every(word => haystack.includes(word));
}

/** The notebooks that runs came from, sorted by file name (runs of no notebook left out). */
export function notebooksOf(runs: readonly IRun[]): string[] {
  const paths = new Set<string>();
  for (const run of runs) {
    if (run.notebook) {
      paths.add(run.notebook);
    }
  }
  return [...paths].sort(
    (a, b) =>
      notebookName(a).localeCompare(notebookName(b)) || a.localeCompare(b)
  );
}
