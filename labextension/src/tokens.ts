/**
 * Constants and the shapes of the server's JSON (see flyte_jupyter/server/service.py).
 */

export const PLUGIN_ID = 'flyte-jupyter:plugin';
export const SIDEBAR_ID = 'flyte-jupyter-runs';
export const API_PATH = 'flyte-jupyter/api';
/** The comm over which a kernel learns its notebook's current path (see notebookpath.ts). */
export const NOTEBOOK_COMM = 'flyte_jupyter.notebook';
/** A run in a cell output: `{id, status?, flyte_name?}` (see widgets/runcell.ts). */
export const RUN_MIME = 'application/vnd.flyte-jupyter.run+json';

export namespace CommandIDs {
  export const showRuns = 'flyte-jupyter:show-runs';
  export const refreshRuns = 'flyte-jupyter:refresh-runs';
  export const openRun = 'flyte-jupyter:open-run';
  export const cancelRun = 'flyte-jupyter:cancel-run';
  export const copyRunId = 'flyte-jupyter:copy-run-id';
  export const copyRunUrl = 'flyte-jupyter:copy-run-url';
  export const copyConsoleUrl = 'flyte-jupyter:copy-console-url';
  export const rerunRun = 'flyte-jupyter:rerun';
  export const rerunInNotebook = 'flyte-jupyter:rerun-in-notebook';
  export const openNotebook = 'flyte-jupyter:open-notebook';
}

export type RunStatus =
  'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

export interface IRunEvent {
  at: number;
  status: RunStatus;
  message: string;
}

export interface IRun {
  id: string;
  backend: string;
  entity: string;
  flyte_name: string;
  kind: string;
  /** The entity's Flyte SDK: `flytekit`, or `flyte` for flyte v2. */
  sdk: string;
  project: string;
  domain: string;
  version: string;
  status: RunStatus;
  done: boolean;
  created_at: number;
  updated_at: number;
  url: string | null;
  page_url: string;
  notebook: string | null;
  /** The notebook relative to the server's root (as JupyterLab opens it), else null. */
  notebook_path: string | null;
  bundle_digest: string | null;
  bundle_uri: string | null;
  inputs: Record<string, string>;
  outputs: Record<string, string> | null;
  error: string | null;
  remote_id: string | null;
  /** When the run's supervisor last said it was alive (local runs), else null. */
  heartbeat_at: number | null;
  /** The run has not ended but its supervisor has not been heard from for too long. */
  lost: boolean;
  /** Why the run counts as lost, for people. */
  lost_note: string | null;
  has_log: boolean;
  events: IRunEvent[];
}

export interface IRunList {
  runs: IRun[];
  limit: number;
  offset: number;
  next_offset: number | null;
}

/** `GET runs/changes?after=<token>`: the run store's token once it changed, or at a timeout. */
export interface IRunChanges {
  token: string;
  changed: boolean;
}

export interface IRefreshOptions {
  /** Seconds between refreshes while any run is active. */
  activeRefreshSeconds: number;
  /** Seconds between refreshes when every run has ended. */
  idleRefreshSeconds: number;
  /** How many of the newest runs to list. */
  pageSize: number;
}

export const DEFAULT_REFRESH: IRefreshOptions = {
  activeRefreshSeconds: 2,
  idleRefreshSeconds: 15,
  pageSize: 50
};
