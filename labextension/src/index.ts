import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IFrame } from '@jupyterlab/ui-components';

import { confirmAndCancel } from './cancel';
import { registerCommands } from './commands';
import { flyteIcon } from './icons';
import { openRunLinksInLab } from './links';
import { NotebookPathReporter } from './notebookpath';
import { shortLabel } from './model';
import {
  CommandIDs,
  DEFAULT_REFRESH,
  IRefreshOptions,
  PLUGIN_ID,
  SIDEBAR_ID
} from './tokens';
import { RunsPanel } from './widgets/runs';

function readSettings(settings: ISettingRegistry.ISettings): IRefreshOptions {
  const number = (key: keyof IRefreshOptions): number => {
    const value = settings.get(key).composite;
    return typeof value === 'number' ? value : DEFAULT_REFRESH[key];
  };
  return {
    activeRefreshSeconds: number('activeRefreshSeconds'),
    idleRefreshSeconds: number('idleRefreshSeconds'),
    pageSize: number('pageSize')
  };
}

/**
 * The "Flyte runs" sidebar, run pages in JupyterLab tabs, and their commands.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Flyte runs sidebar and run pages for flyte_jupyter.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<IFrame>>({
      namespace: 'flyte-jupyter-run'
    });
    const panel = new RunsPanel({
      openRun: run => {
        void app.commands.execute(CommandIDs.openRun, {
          id: run.id,
          label: shortLabel(run)
        });
      },
      cancelRun: async run => {
        await confirmAndCancel(run.id);
      }
    });
    panel.id = SIDEBAR_ID;
    panel.title.icon = flyteIcon;
    panel.title.caption = 'Flyte runs';
    app.shell.add(panel, 'left', { rank: 850 });

    registerCommands(app, panel, tracker, palette);
    app.docRegistry.addWidgetExtension('Notebook', new NotebookPathReporter());
    const menu: [string, number][] = [
      [CommandIDs.openRun, 1],
      [CommandIDs.copyRunId, 2],
      [CommandIDs.copyRunUrl, 3],
      [CommandIDs.copyConsoleUrl, 4],
      [CommandIDs.rerunInNotebook, 5],
      [CommandIDs.rerunRun, 6],
      [CommandIDs.openNotebook, 7],
      [CommandIDs.cancelRun, 8]
    ];
    for (const [command, rank] of menu) {
      app.contextMenu.addItem({
        command,
        selector: '.fj-run',
        rank,
        args: { menu: true }
      });
    }
    openRunLinksInLab(runId => {
      void app.commands.execute(CommandIDs.openRun, { id: runId });
    });

    if (restorer) {
      restorer.add(panel, SIDEBAR_ID);
      void restorer.restore(tracker, {
        command: CommandIDs.openRun,
        args: widget => ({
          id: widget.id.replace('flyte-jupyter-run-', ''),
          label: widget.title.label
        }),
        name: widget => widget.id
      });
    }

    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          panel.refreshOptions = readSettings(settings);
          settings.changed.connect(() => {
            panel.refreshOptions = readSettings(settings);
          });
        })
        .catch(() => {
          // no stored settings: the defaults stay in force
        });
    }
  }
};

export default plugin;
