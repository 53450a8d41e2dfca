import { ServerConnection } from '@jupyterlab/services';
import { refreshIcon, stopIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { age, missingRunFields } from '../model';
import { requestAPI } from '../request';
import {
  DEFAULT_REFRESH,
  IRefreshOptions,
  IRun,
  IRunList,
  RunStatus
} from '../tokens';

const GLYPHS: Record<RunStatus, string> = {
  QUEUED: '',
  RUNNING: '',
  SUCCEEDED: '✓',
  FAILED: '✕',
  ABORTED: '■'
};

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
    /** Cancel a run; the panel refreshes afterwards. */
    cancelRun: (run: IRun) => Promise<void>;
    /** Refresh timing and page size. */
    refresh?: IRefreshOptions;
  }
}

/**
 * The "Flyte runs" sidebar: newest runs first, with status, entity, domain, age and bundle
 * digest. It asks the server for runs every few seconds while any run is active, and rarely
 * otherwise; it does not poll while hidden.
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
    this._buildEmptyState();
    this.node.append(header, this._error, this._list, this._empty);
  }

  /** The runs last received from the server, newest first. */
  get runs(): readonly IRun[] {
    return this._runs;
  }

  /** Refresh timing; applied from the next refresh on. */
  set refreshOptions(options: IRefreshOptions) {
    this._options = { ...options };
    this._schedule();
  }

  /** Ask the server for runs now (and schedule the next refresh). */
  refresh(): Promise<void> {
    if (!this._pending) {
      this._pending = this._fetch().finally(() => {
        this._pending = null;
        this._schedule();
      });
    }
    return this._pending;
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.refresh();
    }
  }

  private async _fetch(): Promise<void> {
    try {
      const list = await requestAPI<IRunList>(
        `runs?limit=${encodeURIComponent(String(this._options.pageSize))}`
      );
      const missing =
        list.runs.length > 0 ? missingRunFields(list.runs[0]) : [];
      this._runs = missing.length > 0 ? [] : list.runs;
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
    this._empty.hidden = this._runs.length > 0 || !this._error.hidden;
    this._list.hidden = this._runs.length === 0;
    const now = Date.now() / 1000;
    const items = this._runs.map(run => this._item(run, now));
    this._list.replaceChildren(...items);
  }

  private _item(run: IRun, now: number): HTMLLIElement {
    const item = document.createElement('li');
    item.className = 'fj-run';
    item.dataset.runId = run.id;
    item.dataset.status = run.status;
    item.tabIndex = 0;
    item.title = `${run.flyte_name} — ${run.status}\nRun ${run.id}\nClick to open its page`;

    const status = document.createElement('span');
    status.className = `fj-run-status fj-status-${run.status.toLowerCase()}`;
    status.textContent = GLYPHS[run.status] ?? '?';
    status.title = run.status;
    status.setAttribute('aria-label', run.status);

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
    meta.append(span('fj-run-domain', run.domain));
    if (run.sdk === 'flyte') {
      const sdk = span('fj-run-sdk', 'v2');
      sdk.title = 'A flyte v2 run';
      meta.append(sdk);
    }
    if (run.bundle_digest) {
      const digest = span('fj-run-digest', run.bundle_digest.slice(0, 8));
      digest.title = `bundle sha256 ${run.bundle_digest}`;
      meta.append(digest);
    }
    main.append(top, meta);
    item.append(status, main);

    if (!run.done) {
      const cancel = document.createElement('button');
      cancel.className = 'fj-icon-button fj-run-cancel';
      cancel.title = 'Cancel run';
      cancel.setAttribute('aria-label', `Cancel run ${run.id}`);
      stopIcon.element({ container: cancel, height: '14px', width: '14px' });
      cancel.addEventListener('click', event => {
        event.stopPropagation();
        cancel.disabled = true;
        void this._cancelRun(run).finally(() => this.refresh());
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
      'Runs appear here with their status. Click one to open its page: logs, outputs and the bundle it shipped.';
    this._empty.append(lead, how, load, then, cell, after);
  }

  private _openRun: (run: IRun) => void;
  private _cancelRun: (run: IRun) => Promise<void>;
  private _options: IRefreshOptions;
  private _runs: IRun[] = [];
  private _pending: Promise<void> | null = null;
  private _timer = 0;
  private _summary = document.createElement('span');
  private _error = document.createElement('div');
  private _list = document.createElement('ul');
  private _empty = document.createElement('div');
}

function span(className: string, text: string): HTMLSpanElement {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}
