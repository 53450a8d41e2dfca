import { PageConfig } from '@jupyterlab/coreutils';

import { RUN_ID } from './model';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function sameServer(url: URL): boolean {
  const here = window.location;
  if (url.origin === here.origin) {
    return true;
  }
  // kernels may name this server "localhost" while the browser uses 127.0.0.1, or back
  return (
    url.protocol === here.protocol &&
    url.port === here.port &&
    LOOPBACK.has(url.hostname) &&
    LOOPBACK.has(here.hostname)
  );
}

/**
 * The run id of a link to a run page of this server, else null.
 */
export function runIdOfLink(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href, window.location.href);
  } catch {
    return null;
  }
  const base = new URL(PageConfig.getBaseUrl(), window.location.href).pathname;
  const prefix = `${base.replace(/\/?$/, '/')}flyte-jupyter/runs/`;
  if (!sameServer(url) || !url.pathname.startsWith(prefix)) {
    return null;
  }
  const id = url.pathname.slice(prefix.length).replace(/\/$/, '');
  return RUN_ID.test(id) ? id : null;
}

/**
 * Open links to run pages (as `%%flyte_run` shows them in outputs) in a JupyterLab tab.
 * A modified click (ctrl, cmd, shift, middle button) still opens a browser tab.
 *
 * @returns a function that removes the listener
 */
export function openRunLinksInLab(open: (runId: string) => void): () => void {
  const listener = (event: MouseEvent): void => {
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    ) {
      return;
    }
    const target = event.target instanceof Element ? event.target : null;
    const anchor = target?.closest('a[href]');
    if (!(anchor instanceof HTMLAnchorElement)) {
      return;
    }
    const runId = runIdOfLink(anchor.href);
    if (runId === null) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    open(runId);
  };
  document.addEventListener('click', listener, true);
  return () => document.removeEventListener('click', listener, true);
}
