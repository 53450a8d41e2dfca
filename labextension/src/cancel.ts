import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';

import { requestAPI } from './request';
import { IRun } from './tokens';

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

/**
 * Ask "Cancel this run?", then cancel it when the user agrees.
 *
 * @returns the run after cancelling, or null (not confirmed, or refused by the server)
 */
export async function confirmAndCancel(runId: string): Promise<IRun | null> {
  const answer = await showDialog({
    title: 'Cancel this run?',
    body: `Run ${runId} will be stopped; its outputs so far are kept.`,
    buttons: [
      Dialog.cancelButton({ label: 'Keep running' }),
      Dialog.warnButton({ label: 'Cancel run' })
    ]
  });
  return answer.button.accept ? cancelRun(runId) : null;
}
