import { MainAreaWidget, ToolbarButton } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IFrame, refreshIcon, stopIcon } from '@jupyterlab/ui-components';

import { confirmAndCancel } from '../cancel';
import { flyteIcon } from '../icons';
import { requestAPI } from '../request';
import { DEFAULT_REFRESH, IRun } from '../tokens';

/**
 * The URL of a run's page on this server.
 */
export function runPageUrl(runId: string): string {
  return URLExt.join(PageConfig.getBaseUrl(), 'flyte-jupyter', 'runs', runId);
}

/**
 * The run page's URL in JupyterLab's current theme (light or dark), when it tells.
 */
function themedUrl(runId: string): string {
  const light = document.body.dataset.jpThemeLight;
  const theme = light === 'false' ? 'dark' : light === 'true' ? 'light' : '';
  return theme ? `${runPageUrl(runId)}?theme=${theme}` : runPageUrl(runId);
}

/**
 * A main-area tab showing a run's page (the server's HTML page in an iframe).
 *
 * The frame is sandboxed without `allow-scripts`: with both `allow-scripts` and
 * `allow-same-origin` a framed page may lift its own sandbox, so the sandbox would protect
 * nothing. The page's own script (log follower, cancel button) therefore does not run here;
 * this tab does that work from JupyterLab instead: it follows the run through the API and
 * reloads the page (keeping its scroll position) when the run or its log changes, and offers
 * Cancel in its toolbar, with a confirmation.
 */
export function createRunPage(
  runId: string,
  label: string
): MainAreaWidget<IFrame> {
  const content = new IFrame({
    sandbox: ['allow-same-origin', 'allow-popups'],
    referrerPolicy: 'same-origin'
  });
  const frame = content.node.querySelector('iframe');
  // Same origin: the page's styles load and this tab can keep its scroll. Popups: the Flyte
  // console link opens in a browser tab, which must not inherit this sandbox (IFrame's typing
  // lacks 'allow-popups-to-escape-sandbox', so the attribute is set here).
  frame?.setAttribute(
    'sandbox',
    'allow-same-origin allow-popups allow-popups-to-escape-sandbox'
  );
  // follow JupyterLab's light/dark theme rather than the browser's preference, also when
  // the user switches themes while the tab is open (the framed page runs no script)
  content.url = themedUrl(runId);
  const themes = new MutationObserver(() => {
    const url = themedUrl(runId);
    if (content.url !== url) {
      content.url = url;
    }
  });
  themes.observe(document.body, {
    attributes: true,
    attributeFilter: ['data-jp-theme-light']
  });
  content.addClass('fj-run-frame');
  const widget = new MainAreaWidget({ content });
  widget.id = `flyte-jupyter-run-${runId}`;
  widget.title.label = label;
  widget.title.caption = `Flyte run ${runId}`;
  widget.title.icon = flyteIcon;
  widget.title.closable = true;
  widget.addClass('fj-run-page');

  const follower = new RunFollower(runId, frame);
  const cancelButton = new ToolbarButton({
    icon: stopIcon,
    label: 'Cancel run',
    tooltip: 'Stop this run (asks first)',
    enabled: false,
    onClick: () => void confirmAndCancel(runId).then(() => follower.poke())
  });
  cancelButton.addClass('fj-run-page-cancel');
  widget.toolbar.addItem('cancel', cancelButton);
  widget.toolbar.addItem(
    'reload',
    new ToolbarButton({
      icon: refreshIcon,
      tooltip: 'Reload the run page',
      onClick: () => follower.reload()
    })
  );
  follower.changed = run => {
    cancelButton.enabled = !run.done;
  };
  widget.disposed.connect(() => {
    themes.disconnect();
    follower.dispose();
  });
  void follower.start();
  return widget;
}

/**
 * Follows a run that has not ended and reloads its framed page when the run changes.
 */
class RunFollower {
  changed: (run: IRun) => void = () => undefined;

  constructor(
    private readonly _runId: string,
    private readonly _frame: HTMLIFrameElement | null
  ) {
    // the page's cancel button needs the page's script, which the sandbox stops
    this._frame?.addEventListener('load', () => {
      this._frame?.contentDocument?.getElementById('fj-cancel')?.remove();
    });
  }

  async start(): Promise<void> {
    let last: string | null = null;
    while (!this._disposed) {
      const seen = await this._look();
      if (seen !== null) {
        if (last !== null && seen.key !== last) {
          this.reload();
        }
        last = seen.key;
        if (seen.run.done) {
          return;
        }
      }
      await new Promise<void>(resolve => {
        this._wake = resolve;
        this._timer = window.setTimeout(
          resolve,
          DEFAULT_REFRESH.activeRefreshSeconds * 1000
        );
      });
    }
  }

  /** Look again now (after a cancel, say). */
  poke(): void {
    window.clearTimeout(this._timer);
    this._wake();
  }

  /** Reload the page, keeping where the reader had scrolled to. */
  reload(): void {
    const view = this._frame?.contentWindow;
    if (!this._frame || !view) {
      return;
    }
    const y = view.scrollY;
    this._frame.addEventListener(
      'load',
      () => this._frame?.contentWindow?.scrollTo(0, y),
      { once: true }
    );
    view.location.reload();
  }

  dispose(): void {
    this._disposed = true;
    this.poke();
  }

  private async _look(): Promise<{ run: IRun; key: string } | null> {
    const id = encodeURIComponent(this._runId);
    try {
      const run = await requestAPI<IRun>(`runs/${id}`);
      let logOffset = 0;
      if (run.has_log) {
        const log = await requestAPI<{ offset: number }>(
          `runs/${id}/logs?tail=0`
        );
        logOffset = log.offset;
      }
      this.changed(run);
      const key = [run.status, run.updated_at, run.lost, logOffset].join('|');
      return { run, key };
    } catch {
      // the server is away for a moment (restarting, say): try again at the next tick
      return null;
    }
  }

  private _disposed = false;
  private _timer = 0;
  private _wake: () => void = () => undefined;
}
