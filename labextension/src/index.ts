/**
 * permutate_nb in JupyterLab 4 and Notebook 7 (a prebuilt extension installed with the Python package):
 * `%%permutate` cells are highlighted as YAML, and a saved request builder reopens as its summary.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { INotebookTracker, type NotebookPanel } from '@jupyterlab/notebook';

import { keepBuilderSummaries } from './builder';
import { highlightPermutateCells } from './highlight';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'permutate-nb:plugin',
  description: '%%permutate cells highlighted as YAML; a saved request builder shown as its summary',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IEditorLanguageRegistry],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, languages: IEditorLanguageRegistry | null): void => {
    // on the panel's creation, before its notebook is loaded and its outputs rendered
    const attach = (panel: NotebookPanel): void => {
      keepBuilderSummaries(panel.content.rendermime);
      highlightPermutateCells(panel.content, languages);
    };
    tracker.forEach(attach);
    tracker.widgetAdded.connect((_, panel) => attach(panel));
  }
};

export default plugin;
