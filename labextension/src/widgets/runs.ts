import { ServerConnection } from '@jupyterlab/services';
import {
  checkIcon,
  closeIcon,
  LabIcon,
  refreshIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  age,
  duration,
  filtering,
  IRunFilter,
  matchesFilter,
  missingRunFields,
  NO_FILTER,
  notebookName,
  notebooksOf,
  runSeconds
} from '../model';
import { requestAPI } from '../request';
import {
  DEFAULT_REFRESH,
  IRefreshOptions,
  IRun,
  IRunChanges,
  IRunList,
  RunStatus
} from '../tokens';

// Icons from JupyterLab's own set: every font draws them (unicode marks may be tofu).
const STATUS_ICONS: Partial<Record<RunStatus, LabIcon>> = {
  SUCCEEDED: checkIcon,
  FAILED: closeIcon,
  ABORTED: stopIcon
};

const STATUS_CHOICES: [IRunFilter['status'], string][] = [
  ['', 'Any status'],
  ['active', 'Active'],
  ['QUEUED', 'Queued'],
  ['RUNNING', 'Running'],
  ['SUCCEEDED', 'Succeeded'],
  ['FAILED', 'Failed'],
  ['ABORTED', 'Aborted']
];

// After the push channel fails (an older server, a proxy that cuts long requests), wait
// this long before trying it again; polling goes on meanwhile.
const PUSH_RETRY_MS = 10_000;
// How long a newly listed run stays lit up (the fj-new animation in style/base.css).
const NEW_SECONDS = 2;

const EMPTY_CELL = `%%flyte_run --wait
from flytekit import task

@task
def square(x: int) -> int:
    return x * x

square(x=7)`;

/**
 * Options of the runs sidebar.
 */
export namespace RunsPanel {
  export interface IOptions {
    /** Open a run's page (in a JupyterLab tab). */
    openRun: (run: IRun) => void;
    /** Cancel a run (asking first); the panel refreshes afterwards. */
    cancelRun: (run: IRun) => Promise<void>;
    /** Refresh timing and page size. */
    refresh?: IRefreshOptions;
  }
}

/**
 * The "Flyte runs" sidebar: newest runs first, with status, entity, domain, version,
 * duration, notebook and bundle digest; filtered by status, notebook and text.
 *
 * It follows the run store live while shown: the server answers a pending
 * `runs/changes` request as soon as a run is added or changes, and the list is fetched
 * then. It also polls, every few seconds while a run is active and rarely otherwise, for
 * what no write announces (a run whose supervisor went quiet). Nothing runs while hidden.
 */
export class RunsPanel extends Widget {
  constructor(options: RunsPanel.IOptions) {
    super();
    this._openRun = options.openRun;
    this._cancelRun = options.cancelRun;
    this._options = { ...(options.refresh ?? DEFAULT_REFRESH) };
    this.addClass('fj-runs');

    const header = document.createElement('div');
    header.className = 'fj-runs-header';
    const title = document.createElement('h2');
    title.className = 'fj-runs-title';
    title.textContent = 'Flyte runs';
    this._summary.className = 'fj-runs-summary';
    const refresh = document.createElement('button');
    refresh.className = 'fj-icon-button fj-runs-refresh';
    refresh.title = 'Refresh';
    refresh.setAttribute('aria-label', 'Refresh Flyte runs');
    refreshIcon.element({ container: refresh, height: '16px', width: '16px' });
    refresh.addEventListener('click', () => void this.refresh());
    header.append(title, this._summary, refresh);

    this._error.className = 'fj-runs-error';
    this._error.hidden = true;
    this._list.className = 'fj-runs-list';
    this._empty.className = 'fj-runs-empty';
    this._empty.hidden = true;
    this._noMatch.className = 'fj-runs-nomatch';
    this._noMatch.hidden = true;
    this._noMatch.textContent = 'No run matches the filter.';
    this._buildEmptyState();
    this.node.append(
      header,
      this._buildFilterBar(),
      this._error,
      this._list,
      this._noMatch,
      this._empty
    );
  }

  /** The runs last received from the server, newest first. */
  get runs(): readonly IRun[] {
    return this._runs;
  }

  /** The run with this id among those listed, if any. */
  runById(runId: string): IRun | undefined {
    return this._runs.find(run => run.id === runId);
  }

  /** The filter in force. */
  get filter(): IRunFilter {
    return { ...this._filter };
  }

  set filter(filter: IRunFilter) {
    const serverSide = (f: IRunFilter) =>
      `${f.status === 'active' ? '' : f.status}|${f.notebook}`;
    const refetch = serverSide(filter) !== serverSide(this._filter);
    this._filter = { ...filter };
    this._search.value = filter.text;
    this._statusSelect.value = filter.status;
    this._notebookSelect.value = filter.notebook;
    if (refetch) {
      void this.refresh();
    } else {
      this._render();
    }
  }

  /** Refresh timing; applied from the next refresh on. */
  set refreshOptions(options: IRefreshOptions) {
    this._options = { ...options };
    this._schedule();
  }

  /** Ask the server for runs now (and schedule the next refresh). */
  refresh(): Promise<void> {
    if (this._pending) {
      // a change arrived while a fetch was under way: fetch again after it
      this._again = true;
      return this._pending;
    }
    this._pending = this._fetch().finally(() => {
      this._pending = null;
      this._schedule();
      if (this._again) {
        this._again = false;
        void this.refresh();
      }
    });
    return this._pending;
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    window.clearInterval(this._ticker);
    this._push?.abort();
    this._wakeFollower();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
    this._startFollowing();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.refresh();
      this._startFollowing();
    }
  }

  /** Follow the server's change channel while shown (one loop per panel). */
  private _startFollowing(): void {
    this._wakeFollower();
    this._ensureFollowing();
  }

  /**
   * Start the change loop if it is not running. A sidebar restored open gets no after-show
   * message, so every refresh of a visible panel makes sure of it.
   */
  private _ensureFollowing(): void {
    if (this._following || this.isDisposed) {
      return;
    }
    this._following = true;
    void this._follow().finally(() => {
      this._following = false;
    });
  }

  private async _follow(): Promise<void> {
    let token = '';
    while (!this.isDisposed) {
      if (!this.isVisible) {
        await new Promise<void>(resolve => (this._wakeFollower = resolve));
        continue;
      }
      this._push = new AbortController();
      try {
        const after = encodeURIComponent(token);
        const answer = await requestAPI<IRunChanges>(
          `runs/changes?after=${after}`,
          { signal: this._push.signal }
        );
        const first = token === '';
        token = answer.token;
        if (answer.changed && !first) {
          await this.refresh();
        }
      } catch {
        if (this.isDisposed) {
          return;
        }
        await new Promise<void>(resolve => {
          const timer = window.setTimeout(resolve, PUSH_RETRY_MS);
          this._wakeFollower = () => {
            window.clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  private async _fetch(): Promise<void> {
    if (this.isVisible) {
      this._ensureFollowing();
    }
    const query = new URLSearchParams({
      limit: String(this._options.pageSize)
    });
    if (this._filter.status && this._filter.status !== 'active') {
      query.set('status', this._filter.status);
    }
    if (this._filter.notebook) {
      query.set('notebook', this._filter.notebook);
    }
    try {
      const list = await requestAPI<IRunList>(`runs?${query.toString()}`);
      const missing =
        list.runs.length > 0 ? missingRunFields(list.runs[0]) : [];
      this._runs = missing.length > 0 ? [] : list.runs;
      for (const path of notebooksOf(this._runs)) {
        this._notebooks.add(path);
      }
      this._error.hidden = missing.length === 0;
      this._error.textContent =
        'The server runs another version of flyte_jupyter: its runs lack ' +
        `${missing.join(', ')}. Restart JupyterLab after installing one version.`;
    } catch (error) {
      this._error.hidden = false;
      this._error.textContent =
        error instanceof ServerConnection.ResponseError
          ? `The server could not list runs (${error.response.status}): ${error.message}`
          : 'Cannot reach the flyte_jupyter server extension. Check that ' +
            '`jupyter server extension list` shows flyte_jupyter enabled, then restart JupyterLab.';
    }
    this._render();
  }

  private _schedule(): void {
    window.clearTimeout(this._timer);
    if (this.isDisposed) {
      return;
    }
    const active = this._runs.some(run => !run.done);
    const seconds = active
      ? this._options.activeRefreshSeconds
      : this._options.idleRefreshSeconds;
    this._timer = window.setTimeout(() => {
      if (this.isVisible) {
        void this.refresh();
      } else {
        this._schedule();
      }
    }, seconds * 1000);
  }

  private _render(): void {
    const active = this._runs.filter(run => !run.done).length;
    this._summary.textContent = active > 0 ? `${active} active` : '';
    this._updateNotebookChoices();
    const shown = this._runs.filter(run => matchesFilter(run, this._filter));
    const none = this._runs.length === 0 && !filtering(this._filter);
    this._empty.hidden = !none || !this._error.hidden;
    this._noMatch.hidden = none || shown.length > 0 || !this._error.hidden;
    this._list.hidden = shown.length === 0;
    const now = Date.now() / 1000;
    // keep the keyboard where it was: the focused row is rebuilt too
    const focused =
      document.activeElement instanceof HTMLElement &&
      this._list.contains(document.activeElement)
        ? (document.activeElement.closest('.fj-run') as HTMLElement | null)
            ?.dataset.runId
        : undefined;
    const items = shown.map(run => this._item(run, now));
    // a run that was not listed before (launched just now) is lit up for a moment; rows are
    // rebuilt on each refresh, so the animation goes on where it was
    for (const run of this._runs) {
      if (!this._seenAt.has(run.id)) {
        this._seenAt.set(run.id, this._loaded ? now : 0);
      }
    }
    this._loaded = true;
    for (const item of items) {
      const since = now - (this._seenAt.get(item.dataset.runId ?? '') ?? 0);
      if (since < NEW_SECONDS) {
        item.classList.add('fj-run-new');
        item.style.animationDelay = `-${since.toFixed(2)}s`;
      }
    }
    this._list.replaceChildren(...items);
    if (focused) {
      this._list
        .querySelector<HTMLElement>(`.fj-run[data-run-id="${focused}"]`)
        ?.focus();
    }
    // durations and ages of what is shown move on between refreshes
    window.clearInterval(this._ticker);
    this._ticker = window.setInterval(() => this._tick(), 1000);
  }

  private _tick(): void {
    if (!this.isVisible) {
      return;
    }
    const now = Date.now() / 1000;
    for (const item of Array.from(this._list.children)) {
      const run = this.runById((item as HTMLElement).dataset.runId ?? '');
      if (!run) {
        continue;
      }
      const when = item.querySelector('.fj-run-age');
      if (when) {
        when.textContent = age(now - run.created_at);
      }
      const took = item.querySelector('.fj-run-duration');
      if (took && !run.done) {
        took.textContent = duration(runSeconds(run, now));
      }
    }
  }

  private _item(run: IRun, now: number): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'fj-run';
    item.dataset.runId = run.id;
    item.dataset.status = run.status;
    item.tabIndex = 0;
    item.title =
      `${run.flyte_name} — ${run.status}\nRun ${run.id}` +
      (run.notebook ? `\nNotebook ${run.notebook}` : '') +
      '\nClick to open its page; right-click for more';

    const status = document.createElement('span');
    status.className = `fj-run-status fj-status-${run.status.toLowerCase()}`;
    status.title = run.lost ? `${run.status} (lost)` : run.status;
    status.setAttribute('aria-label', run.status);
    const icon = STATUS_ICONS[run.status];
    if (icon) {
      // no `container`: LabIcon would replace its classes (the status colour) with its own
      status.append(
        icon.element({
          tag: 'span',
          height: '12px',
          width: '12px',
          className: 'fj-run-status-icon'
        })
      );
    }

    const main = document.createElement('div');
    main.className = 'fj-run-main';
    const top = document.createElement('div');
    top.className = 'fj-run-top';
    // the task's own name first (it never gets cut), then its module, muted
    const flyteName = run.flyte_name || run.entity;
    const dot = flyteName.lastIndexOf('.');
    const entity = document.createElement('span');
    entity.className = 'fj-run-entity';
    entity.title = flyteName;
    entity.append(
      span('fj-run-name', dot >= 0 ? flyteName.slice(dot + 1) : flyteName)
    );
    if (dot > 0) {
      entity.append(span('fj-run-module', flyteName.slice(0, dot)));
    }
    const when = span('fj-run-age', age(now - run.created_at));
    when.title = new Date(run.created_at * 1000).toLocaleString();
    top.append(entity, when);

    const meta = document.createElement('div');
    meta.className = 'fj-run-meta';
    const took = span('fj-run-duration', duration(runSeconds(run, now)));
    took.title = run.done ? 'Duration' : 'Running for';
    meta.append(took, span('fj-run-domain', run.domain));
    if (run.lost) {
      const lost = span('fj-run-lost', 'lost');
      lost.title = run.lost_note ?? 'Its supervisor has not been heard from';
      meta.append(lost);
    }
    if (run.version) {
      const version = span('fj-run-version', run.version.slice(0, 10));
      version.title = `version ${run.version}`;
      meta.append(version);
    }
    if (run.sdk === 'flyte') {
      const sdk = span('fj-run-sdk', 'v2');
      sdk.title = 'A flyte v2 run';
      meta.append(sdk);
    }
    // where it came from: its notebook and the bundle it shipped
    const origin = document.createElement('div');
    origin.className = 'fj-run-meta fj-run-origin';
    if (run.notebook) {
      const notebook = span('fj-run-notebook', notebookName(run.notebook));
      notebook.title = run.notebook;
      origin.append(notebook);
    }
    if (run.bundle_digest) {
      const digest = span('fj-run-digest', run.bundle_digest.slice(0, 8));
      digest.title = `bundle sha256 ${run.bundle_digest}`;
      origin.append(digest);
    }
    main.append(top, meta);
    if (origin.childElementCount > 0) {
      main.append(origin);
    }
    item.append(status, main);

    if (!run.done) {
      const cancel = document.createElement('button');
      cancel.className = 'fj-icon-button fj-run-cancel';
      cancel.title = 'Cancel run (asks first)';
      cancel.setAttribute('aria-label', `Cancel run ${run.id}`);
      stopIcon.element({ container: cancel, height: '14px', width: '14px' });
      cancel.addEventListener('click', event => {
        event.stopPropagation();
        cancel.disabled = true;
        void this._cancelRun(run).finally(() => {
          cancel.disabled = false;
          return this.refresh();
        });
      });
      item.append(cancel);
    }
    item.addEventListener('click', () => this._openRun(run));
    item.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        this._openRun(run);
      }
    });
    return item;
  }

  private _buildFilterBar(): HTMLElement {
    const bar = document.createElement('div');
    bar.className = 'fj-runs-filter';
    this._search.type = 'search';
    this._search.className = 'jp-mod-styled fj-runs-search';
    this._search.placeholder = 'Filter by task, id, version';
    this._search.setAttribute('aria-label', 'Filter runs by text');
    this._search.addEventListener('input', () => {
      this._filter = { ...this._filter, text: this._search.value };
      this._render();
    });
    this._statusSelect.className = 'jp-mod-styled fj-runs-status-filter';
    this._statusSelect.setAttribute('aria-label', 'Filter runs by status');
    for (const [value, label] of STATUS_CHOICES) {
      this._statusSelect.append(new Option(label, value));
    }
    this._statusSelect.addEventListener('change', () => {
      this.filter = {
        ...this._filter,
        status: this._statusSelect.value as IRunFilter['status']
      };
    });
    this._notebookSelect.className = 'jp-mod-styled fj-runs-notebook-filter';
    this._notebookSelect.setAttribute('aria-label', 'Filter runs by notebook');
    this._notebookSelect.addEventListener('change', () => {
      this.filter = { ...this._filter, notebook: this._notebookSelect.value };
    });
    this._updateNotebookChoices();
    const selects = document.createElement('div');
    selects.className = 'fj-runs-filter-selects';
    selects.append(this._statusSelect, this._notebookSelect);
    bar.append(this._search, selects);
    return bar;
  }

  private _updateNotebookChoices(): void {
    const paths = [...this._notebooks].sort(
      (a, b) =>
        notebookName(a).localeCompare(notebookName(b)) || a.localeCompare(b)
    );
    const wanted = ['', ...paths];
    const have = Array.from(this._notebookSelect.options).map(o => o.value);
    if (wanted.join('\n') === have.join('\n')) {
      return;
    }
    const names = paths.map(notebookName);
    this._notebookSelect.replaceChildren(
      new Option('Any notebook', ''),
      ...paths.map((path, i) => {
        // the same file name in two folders: show the path
        const twice = names.indexOf(names[i]) !== names.lastIndexOf(names[i]);
        const option = new Option(twice ? path : names[i], path);
        option.title = path;
        return option;
      })
    );
    this._notebookSelect.value = this._filter.notebook;
  }

  private _buildEmptyState(): void {
    const lead = document.createElement('p');
    lead.className = 'fj-runs-empty-title';
    lead.textContent = 'No Flyte runs yet';
    const how = document.createElement('p');
    how.textContent = 'Launch one from a notebook. Load the extension:';
    const load = document.createElement('pre');
    load.textContent = '%load_ext flyte_jupyter';
    const then = document.createElement('p');
    then.textContent =
      'then run a cell that defines a task and ends with a call:';
    const cell = document.createElement('pre');
    cell.textContent = EMPTY_CELL;
    const after = document.createElement('p');
    after.textContent =
      'Runs appear here as they are launched, and follow their status live. Click one to ' +
      'open its page (logs, outputs and the bundle it shipped); right-click for more.';
    this._empty.append(lead, how, load, then, cell, after);
  }

  private _openRun: (run: IRun) => void;
  private _cancelRun: (run: IRun) => Promise<void>;
  private _options: IRefreshOptions;
  private _filter: IRunFilter = { ...NO_FILTER };
  private _runs: IRun[] = [];
  private _notebooks = new Set<string>();
  private _seenAt = new Map<string, number>();
  private _loaded = false;
  private _pending: Promise<void> | null = null;
  private _again = false;
  private _timer = 0;
  private _ticker = 0;
  private _following = false;
  private _push: AbortController | null = null;
  private _wakeFollower: () => void = () => undefined;
  private _summary = document.createElement('span');
  private _search = document.createElement('input');
  private _statusSelect = document.createElement('select');
  private _notebookSelect = document.createElement('select');
  private _error = document.createElement('div');
  private _list = document.createElement('ul');
  private _noMatch = document.createElement('div');
  private _empty = document.createElement('div');
}

function span(className: string, text: string): HTMLSpanElement {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}
