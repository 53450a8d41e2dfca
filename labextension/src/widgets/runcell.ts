import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import {
  checkIcon,
  closeIcon,
  LabIcon,
  stopIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { confirmAndCancel } from '../cancel';
import { duration, RUN_ID, runSeconds } from '../model';
import { requestAPI } from '../request';
import { DEFAULT_REFRESH, IRun, RUN_MIME, RunStatus } from '../tokens';
import { runPageUrl } from './runpage';

/**
 * What a kernel puts under `application/vnd.flyte-jupyter.run+json` (beside its HTML): the
 * run's id, and what it knew of the run when it showed it (shown until the server answers).
 */
export interface IRunOutput {
  id: string;
  status?: RunStatus;
  flyte_name?: string;
}

// Log lines shown under an active run.
const TAIL_LINES = 6;

const ICONS: Partial<Record<RunStatus, LabIcon>> = {
  SUCCEEDED: checkIcon,
  FAILED: closeIcon,
  ABORTED: stopIcon
};

/**
 * A run in a cell's output that stays live without its kernel: it asks the server for the
 * run (every few seconds while the run is active, while the output is on the page), so a
 * run launched before a kernel restart still shows how it ended.
 */
export class RunOutput extends Widget implements IRenderMime.IRenderer {
  constructor() {
    super();
    this.addClass('fj-run-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[RUN_MIME] as Partial<IRunOutput> | undefined;
    const id = typeof data?.id === 'string' ? data.id : '';
    if (!RUN_ID.test(id)) {
      this.node.textContent = 'Not a flyte_jupyter run (no valid run id).';
      return;
    }
    if (id === this._id) {
      // the kernel redrew its display (every second while it lives): the server's view,
      // followed already, is as fresh, so no extra request
      return;
    }
    this._id = id;
    this._snapshot = data ?? null;
    this._run = null;
    this._tail = null;
    this._show(null);
    this._follow();
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    super.dispose();
  }

  protected onAfterAttach(): void {
    this._follow();
  }

  protected onBeforeDetach(): void {
    window.clearTimeout(this._timer);
  }

  private _follow(): void {
    window.clearTimeout(this._timer);
    void this._look();
  }

  private async _look(): Promise<void> {
    const id = this._id;
    let run: IRun | null = null;
    try {
      run = await requestAPI<IRun>(`runs/${encodeURIComponent(id)}`);
      this._unreachable = false;
    } catch {
      this._unreachable = true;
    }
    if (this.isDisposed || id !== this._id) {
      return;
    }
    if (run) {
      this._run = run;
      // the log's last lines while it runs (and the last look once it ended)
      if (run.has_log && (!run.done || this._tail === null)) {
        try {
          const log = await requestAPI<{ text: string }>(
            `runs/${encodeURIComponent(id)}/logs?tail=${TAIL_LINES}`
          );
          this._tail = log.text;
        } catch {
          // keep the lines already shown
        }
      }
    }
    if (this.isDisposed || id !== this._id) {
      return;
    }
    this._show(this._run);
    if ((!this._run || !this._run.done) && this.isAttached) {
      const seconds = this._unreachable
        ? 10
        : DEFAULT_REFRESH.activeRefreshSeconds;
      this._timer = window.setTimeout(() => void this._look(), seconds * 1000);
    }
  }

  private _show(run: IRun | null): void {
    const status: RunStatus | undefined = run?.status ?? this._snapshot?.status;
    const name = run?.flyte_name || this._snapshot?.flyte_name || 'Flyte run';
    this.node.dataset.status = status ?? '';
    const head = document.createElement('div');
    head.className = 'fj-run-output-head';
    const badge = document.createElement('span');
    badge.className = `fj-run-status fj-status-${(status ?? 'queued').toLowerCase()}`;
    const icon = status ? ICONS[status] : undefined;
    if (icon) {
      badge.append(
        icon.element({ tag: 'span', height: '12px', width: '12px' })
      );
    }
    const title = document.createElement('strong');
    title.textContent = name;
    const word = document.createElement('span');
    word.className = 'fj-run-output-status';
    word.textContent = status ?? '…';
    const id = document.createElement('code');
    id.textContent = this._id;
    head.append(badge, title, word, id);

    const meta = document.createElement('div');
    meta.className = 'fj-run-output-meta';
    const parts: string[] = [];
    if (run) {
      const took = duration(runSeconds(run, Date.now() / 1000));
      parts.push(
        run.done
          ? `took ${took}`
          : run.status === 'QUEUED'
            ? `queued for ${took}`
            : `running for ${took}`
      );
      if (run.lost && run.lost_note) {
        parts.push(run.lost_note);
      }
    }
    if (this._unreachable) {
      parts.push(
        'the server does not answer: status as the kernel last showed it'
      );
    }
    meta.textContent = parts.join(' · ');
    const link = document.createElement('a');
    link.href = run?.page_url ?? runPageUrl(this._id);
    link.textContent = 'open the run page';
    link.target = '_blank';
    meta.append(parts.length ? ' · ' : '', link);

    const body: HTMLElement[] = [head, meta];
    if (run?.status === 'SUCCEEDED' && run.outputs) {
      body.push(values('fj-run-output-values', run.outputs));
    }
    if (this._tail && run && !run.done) {
      const log = document.createElement('pre');
      log.className = 'fj-run-output-log';
      log.textContent = this._tail.replace(/^\s*\n|\s+$/g, '');
      log.title = 'The last lines of the log; the run page has all of it';
      body.push(log);
    }
    if (run?.error) {
      const error = document.createElement('pre');
      error.className = 'fj-run-output-error';
      error.textContent = run.error.split('\n').slice(-6).join('\n');
      body.push(error);
    }
    if (run && !run.done) {
      const cancel = document.createElement('button');
      cancel.className = 'jp-mod-styled jp-mod-warn fj-run-output-cancel';
      cancel.textContent = 'Cancel run';
      cancel.title = 'Stop this run (asks first)';
      cancel.addEventListener('click', () => {
        cancel.disabled = true;
        void confirmAndCancel(this._id).finally(() => this._follow());
      });
      body.push(cancel);
    }
    this.node.replaceChildren(...body);
  }

  private _id = '';
  private _snapshot: Partial<IRunOutput> | null = null;
  private _run: IRun | null = null;
  private _unreachable = false;
  private _tail: string | null = null;
  private _timer = 0;
}

function values(className: string, map: Record<string, string>): HTMLElement {
  const element = document.createElement('div');
  element.className = className;
  element.textContent = Object.entries(map)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
  element.textContent = `outputs: ${element.textContent || '(none)'}`;
  return element;
}

/**
 * The renderer factory of run outputs (safe: it shows text, never the kernel's markup).
 */
export const runOutputFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [RUN_MIME],
  createRenderer: () => new RunOutput()
};
