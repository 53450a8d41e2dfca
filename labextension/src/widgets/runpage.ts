import { MainAreaWidget } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IFrame } from '@jupyterlab/ui-components';

import { flyteIcon } from '../icons';

/** Run ids as the server makes them: 'f' and 19 of [a-z0-9]. */
export const RUN_ID = /^f[a-z0-9]{19}$/;

/**
 * The URL of a run's page on this server.
 */
export function runPageUrl(runId: string): string {
  return URLExt.join(PageConfig.getBaseUrl(), 'flyte-jupyter', 'runs', runId);
}

/**
 * A main-area tab showing a run's page (the server's HTML page in an iframe).
 */
export function createRunPage(
  runId: string,
  label: string
): MainAreaWidget<IFrame> {
  const content = new IFrame({
    // The page is this server's own: it fetches the runs API with the login cookie,
    // shows alerts when cancel fails and opens the Flyte console in a new tab.
    sandbox: ['allow-scripts', 'allow-same-origin', 'allow-popups', 'allow-modals'],
    referrerPolicy: 'same-origin'
  });
  // follow JupyterLab's light/dark theme rather than the browser's preference
  const light = document.body.dataset.jpThemeLight;
  const theme = light === 'false' ? 'dark' : light === 'true' ? 'light' : '';
  content.url = theme ? `${runPageUrl(runId)}?theme=${theme}` : runPageUrl(runId);
  content.addClass('fj-run-frame');
  const widget = new MainAreaWidget({ content });
  widget.id = `flyte-jupyter-run-${runId}`;
  widget.title.label = label;
  widget.title.caption = `Flyte run ${runId}`;
  widget.title.icon = flyteIcon;
  widget.title.closable = true;
  widget.addClass('fj-run-page');
  return widget;
}
