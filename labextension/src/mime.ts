/**
 * The MIME extension: cell outputs of runs (`application/vnd.flyte-jupyter.run+json`) that
 * stay live after the kernel that launched them is gone (see widgets/runcell.ts).
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { runOutputFactory } from './widgets/runcell';

const extension: IRenderMime.IExtension = {
  id: 'flyte-jupyter:run-output',
  description: 'Live cell outputs of flyte_jupyter runs.',
  rendererFactory: runOutputFactory,
  // before text/html (rank 50): the kernel's HTML stays for other frontends and exports
  rank: 20,
  dataType: 'json'
};

export default extension;
