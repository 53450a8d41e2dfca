import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IFrame, refreshIcon, stopIcon } from '@jupyterlab/ui-components';

import { flyteIcon } from './icons';
import { requestAPI } from './request';
import { CommandIDs, IRun, SIDEBAR_ID } from './tokens';
import { RUN_ID, shortLabel } from './model';
import { createRunPage } from './widgets/runpage';
import { RunsPanel } from './widgets/runs';

const CATEGORY = 'Flyte';

/**
 * Open a run's page in a JupyterLab tab (or bring its open tab forward).
 */
export function openRunPage(
  app: JupyterFrontEnd,
  tracker: WidgetTracker<MainAreaWidget<IFrame>>,
  runId: string,
  label?: string
): MainAreaWidget<IFrame> {
  const id = `flyte-jupyter-run-${runId}`;
  const open = tracker.find(widget => widget.id === id);
  if (open) {
    app.shell.activateById(id);
    return open;
  }
  const widget = createRunPage(runId, label ?? runId, cancelRun);
  void tracker.add(widget);
  app.shell.add(widget, 'main', { mode: 'tab-after' });
  app.shell.activateById(widget.id);
  return widget;
}

/**
 * Cancel a run, telling the user when the server refuses.
 */
export async function cancelRun(runId: string): Promise<IRun | null> {
  try {
    return await requestAPI<IRun>(`runs/${encodeURIComponent(runId)}/cancel`, {
      method: 'POST'
    });
  } catch (error) {
    await showErrorMessage(
      `Could not cancel run ${runId}`,
      error instanceof Error ? error.message : String(error)
    );
    return null;
  }
}

async function askRunId(title: string): Promise<string | null> {
  const result = await InputDialog.getText({
    title,
    label: 'Run id (f…, as %%flyte_run shows it)',
    placeholder: 'f0123456789abcdefghi'
  });
  const value = (result.value ?? '').trim();
  if (!result.button.accept || !value) {
    return null;
  }
  if (!RUN_ID.test(value)) {
    await showErrorMessage(
      'Not a run id',
      `"${value}" is not a run id: run ids are "f" followed by 19 lowercase letters or digits.`
    );
    return null;
  }
  return value;
}

/**
 * Register the commands and their palette entries.
 */
export function registerCommands(
  app: JupyterFrontEnd,
  panel: RunsPanel,
  tracker: WidgetTracker<MainAreaWidget<IFrame>>,
  palette: ICommandPalette | null
): void {
  const { commands } = app;

  commands.addCommand(CommandIDs.showRuns, {
    label: 'Show Flyte Runs',
    caption: 'Open the Flyte runs sidebar',
    icon: flyteIcon,
    execute: () => {
      app.shell.activateById(SIDEBAR_ID);
      return panel.refresh();
    }
  });

  commands.addCommand(CommandIDs.refreshRuns, {
    label: 'Refresh Flyte Runs',
    icon: refreshIcon,
    execute: () => panel.refresh()
  });

  commands.addCommand(CommandIDs.openRun, {
    label: args =>
      args.id ? `Open Flyte Run ${String(args.id)}` : 'Open Flyte Run…',
    caption: 'Open a run page: status, logs, outputs, bundle',
    icon: flyteIcon,
    execute: async args => {
      const runId =
        typeof args.id === 'string'
          ? args.id
          : await askRunId('Open Flyte run');
      if (!runId || !RUN_ID.test(runId)) {
        return null;
      }
      const known = panel.runs.find(run => run.id === runId);
      const label =
        typeof args.label === 'string'
          ? args.label
          : known && shortLabel(known);
      return openRunPage(app, tracker, runId, label);
    }
  });

  commands.addCommand(CommandIDs.cancelRun, {
    label: args =>
      args.id ? `Cancel Flyte Run ${String(args.id)}` : 'Cancel Flyte Run…',
    caption: 'Stop a queued or running run',
    icon: stopIcon,
    execute: async args => {
      const runId =
        typeof args.id === 'string'
          ? args.id
          : await askRunId('Cancel Flyte run');
      if (!runId) {
        return null;
      }
      const run = await cancelRun(runId);
      await panel.refresh();
      return run;
    }
  });

  if (palette) {
    for (const command of [
      CommandIDs.showRuns,
      CommandIDs.refreshRuns,
      CommandIDs.openRun,
      CommandIDs.cancelRun
    ]) {
      palette.addItem({ command, category: CATEGORY });
    }
  }
}
