import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showErrorMessage,
  WidgetTracker
} from '@jupyterlab/apputils';
import {
  copyIcon,
  IFrame,
  linkIcon,
  notebookIcon,
  refreshIcon,
  runIcon,
  stopIcon
} from '@jupyterlab/ui-components';

import { confirmAndCancel } from './cancel';
import { flyteIcon } from './icons';
import { CommandIDs, IRun, SIDEBAR_ID } from './tokens';
import { rerunCommand, rerunnable, RUN_ID, shortLabel } from './model';
import { createRunPage, runPageUrl } from './widgets/runpage';
import { RunsPanel } from './widgets/runs';

const CATEGORY = 'Flyte';

/**
 * The parts of a notebook panel (from `docmanager:open`) a rerun uses; typed here so the
 * extension does not depend on @jupyterlab/notebook for four members.
 */
interface INotebookPanelLike {
  id: string;
  context: { ready: Promise<void> };
  sessionContext: { ready: Promise<void> };
  content: {
    activeCellIndex: number;
    model: {
      cells: { length: number };
      sharedModel: {
        insertCell(
          index: number,
          cell: { cell_type: 'code'; source: string }
        ): void;
      };
    };
  };
}

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
  const widget = createRunPage(runId, label ?? runId);
  void tracker.add(widget);
  app.shell.add(widget, 'main', { mode: 'tab-after' });
  app.shell.activateById(widget.id);
  return widget;
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
      args.menu
        ? 'Open Run Page'
        : args.id
          ? `Open Flyte Run ${String(args.id)}`
          : 'Open Flyte Run…',
    caption: 'Open a run page: status, logs, outputs, bundle',
    icon: flyteIcon,
    execute: async args => {
      const runId =
        runOf(app, panel, args)?.id ??
        (typeof args.id === 'string'
          ? args.id
          : await askRunId('Open Flyte run'));
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
      args.menu
        ? 'Cancel Run…'
        : args.id
          ? `Cancel Flyte Run ${String(args.id)}`
          : 'Cancel Flyte Run…',
    caption: 'Stop a queued or running run (asks first)',
    icon: stopIcon,
    isEnabled: args => {
      const run = runOf(app, panel, args);
      return run === undefined || !run.done;
    },
    execute: async args => {
      const runId =
        runOf(app, panel, args)?.id ??
        (typeof args.id === 'string'
          ? args.id
          : await askRunId('Cancel Flyte run'));
      if (!runId) {
        return null;
      }
      const run = await confirmAndCancel(runId);
      await panel.refresh();
      return run;
    }
  });

  registerRunMenuCommands(app, panel);

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

/**
 * The run a command is about: its `id` argument, else the sidebar row the context menu was
 * opened on (undefined when neither names a listed run).
 */
function runOf(
  app: JupyterFrontEnd,
  panel: RunsPanel,
  args: { [key: string]: unknown }
): IRun | undefined {
  if (typeof args.id === 'string') {
    return panel.runById(args.id);
  }
  const row = app.contextMenuHitTest(node => node.classList.contains('fj-run'));
  return row?.dataset.runId ? panel.runById(row.dataset.runId) : undefined;
}

function copied(what: string): void {
  Notification.info(`Copied ${what} to the clipboard.`, { autoClose: 2500 });
}

/**
 * Commands of the sidebar's context menu: copy the id or the page URL, rerun, open the
 * notebook. Each takes the run from its `id` argument or the row right-clicked.
 */
function registerRunMenuCommands(app: JupyterFrontEnd, panel: RunsPanel): void {
  const { commands } = app;
  const listed = (args: { [key: string]: unknown }) =>
    runOf(app, panel, args) !== undefined;

  commands.addCommand(CommandIDs.copyRunId, {
    label: 'Copy Run Id',
    icon: copyIcon,
    isEnabled: listed,
    execute: args => {
      const run = runOf(app, panel, args);
      if (run) {
        Clipboard.copyToSystem(run.id);
        copied(`run id ${run.id}`);
      }
    }
  });

  commands.addCommand(CommandIDs.copyRunUrl, {
    label: 'Copy Run Page URL',
    caption:
      "The run page's full URL on this server, as this browser reaches it",
    icon: linkIcon,
    isEnabled: listed,
    execute: args => {
      const run = runOf(app, panel, args);
      if (run) {
        Clipboard.copyToSystem(
          new URL(runPageUrl(run.id), window.location.href).href
        );
        copied('the run page URL');
      }
    }
  });

  commands.addCommand(CommandIDs.copyConsoleUrl, {
    label: 'Copy Flyte Console URL',
    caption: 'Where the Flyte console shows this remote run',
    icon: linkIcon,
    isVisible: args => {
      const run = runOf(app, panel, args);
      return Boolean(run && run.backend !== 'local' && run.url);
    },
    execute: args => {
      const run = runOf(app, panel, args);
      if (run?.url) {
        Clipboard.copyToSystem(run.url);
        copied('the Flyte console URL');
      }
    }
  });

  commands.addCommand(CommandIDs.rerunInNotebook, {
    label: 'Rerun in Its Notebook',
    caption:
      'Open the notebook that launched the run, add a cell with the %flyte_run line that ' +
      'launches the same task with the same inputs, and run it in the notebook’s kernel ' +
      '(which must define the task: run its cells first after a restart)',
    icon: runIcon,
    isEnabled: args => {
      const run = runOf(app, panel, args);
      return Boolean(run?.notebook_path && rerunnable(run));
    },
    execute: async args => {
      const run = runOf(app, panel, args);
      if (!run?.notebook_path) {
        return;
      }
      const widget = (await commands.execute('docmanager:open', {
        path: run.notebook_path
      })) as INotebookPanelLike;
      await widget.context.ready;
      await widget.sessionContext.ready;
      app.shell.activateById(widget.id);
      const notebook = widget.content;
      const index = notebook.model.cells.length;
      notebook.model.sharedModel.insertCell(index, {
        cell_type: 'code',
        source: rerunCommand(run)
      });
      notebook.activeCellIndex = index;
      await commands.execute('notebook:run-cell');
    }
  });

  commands.addCommand(CommandIDs.rerunRun, {
    label: 'Copy Rerun Command',
    caption:
      'A run needs the kernel of its notebook: this copies the %flyte_run line that ' +
      'launches the same task with the same inputs. Paste it in the notebook and run it.',
    icon: runIcon,
    isEnabled: listed,
    execute: args => {
      const run = runOf(app, panel, args);
      if (run) {
        Clipboard.copyToSystem(rerunCommand(run));
        copied('the %flyte_run line that reruns it; paste it in its notebook');
      }
    }
  });

  commands.addCommand(CommandIDs.openNotebook, {
    label: 'Open Notebook',
    caption: 'Open the notebook that launched the run',
    icon: notebookIcon,
    isEnabled: args => Boolean(runOf(app, panel, args)?.notebook_path),
    execute: args => {
      const path = runOf(app, panel, args)?.notebook_path;
      return path ? commands.execute('docmanager:open', { path }) : null;
    }
  });
}
