import { DocumentRegistry } from '@jupyterlab/docregistry';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { NOTEBOOK_COMM } from './tokens';

/**
 * Tells each notebook's kernel the notebook's current path, so runs are named after the
 * notebook as it is called now, not as it was called when the kernel started.
 *
 * The kernel side (flyte_jupyter/_kernel.py) opens a comm with target `NOTEBOOK_COMM` when
 * `%load_ext flyte_jupyter` runs; this extension answers with `{path}` and sends the path
 * again on every rename. After a page reload, the kernel's comm is still open: it is found
 * with a comm-info request and used again. Kernels without flyte_jupyter never hear of it.
 */
export class NotebookPathReporter implements DocumentRegistry.IWidgetExtension<
  Widget,
  DocumentRegistry.IModel
> {
  createNew(
    _widget: Widget,
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): IDisposable {
    return new PathFollower(context);
  }
}

class PathFollower implements IDisposable {
  constructor(
    private readonly _context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ) {
    const session = _context.sessionContext;
    session.kernelChanged.connect(this._attach, this);
    _context.pathChanged.connect(this._send, this);
    void session.ready.then(() => this._attach());
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._context.sessionContext.kernelChanged.disconnect(this._attach, this);
    this._context.pathChanged.disconnect(this._send, this);
    this._kernel?.removeCommTarget(NOTEBOOK_COMM, this._opened);
  }

  private _attach(): void {
    const kernel = this._context.sessionContext.session?.kernel ?? null;
    if (this._disposed || kernel === this._kernel) {
      return;
    }
    this._kernel?.removeCommTarget(NOTEBOOK_COMM, this._opened);
    this._kernel = kernel;
    this._comm = null;
    if (!kernel) {
      return;
    }
    kernel.registerCommTarget(NOTEBOOK_COMM, this._opened);
    // a comm the kernel opened before this page was loaded (a reload): use it again
    void kernel
      .requestCommInfo({ target_name: NOTEBOOK_COMM })
      .then(reply => {
        if (reply.content.status !== 'ok' || this._comm || this._disposed) {
          return;
        }
        const ids = Object.keys(reply.content.comms);
        if (ids.length > 0 && !kernel.hasComm(ids[ids.length - 1])) {
          this._use(kernel.createComm(NOTEBOOK_COMM, ids[ids.length - 1]));
        }
      })
      .catch(() => {
        // a kernel that cannot answer comm info: it opens a comm itself when it loads us
      });
  }

  private _opened = (
    comm: Kernel.IComm,
    _msg: KernelMessage.ICommOpenMsg
  ): void => {
    this._use(comm);
  };

  private _use(comm: Kernel.IComm): void {
    this._comm = comm;
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
      }
    };
    this._send();
  }

  private _send(): void {
    if (this._comm && !this._comm.isDisposed) {
      this._comm.send({ path: this._context.path });
    }
  }

  private _disposed = false;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
}
