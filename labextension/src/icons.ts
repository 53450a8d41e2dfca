import { LabIcon } from '@jupyterlab/ui-components';

/**
 * The sidebar tab's icon: a rising run trace in a rounded frame (theme-coloured via jp-icon3).
 */
const FLYTE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M5 3h14a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm0 2v14h14V5H5z"/>
    <path d="M6.5 15.6l3.3-4.1 2.7 2.4 4.2-5.4 1.6 1.2-5.5 7.1-2.7-2.4-2.1 2.6z"/>
    <circle cx="17.3" cy="7.6" r="1.4"/>
  </g>
</svg>`;

export const flyteIcon = new LabIcon({
  name: 'flyte-jupyter:runs',
  svgstr: FLYTE_SVG
});
