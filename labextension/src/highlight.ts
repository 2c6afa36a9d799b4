/**
 * `%%permutate` cells are YAML after their first line: their editor gets the YAML language.
 *
 * JupyterLab's CodeMirror editor picks its language from the cell model's `mimeType`, which the
 * notebook sets on every code cell from the kernel's `language_info` (on load, on a new cell and on
 * a kernel change). So each code cell's model is watched: its source (the magic typed or removed)
 * and its mimeType (the notebook resetting it), and a `%%permutate` cell is put back on YAML.
 *
 * The editor loads a language asynchronously and applies whichever load finishes last. YAML, once
 * loaded, would finish before a first load of Python started just before it, and Python would win; so
 * YAML is set back only once the language the notebook just set has loaded.
 */

import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import type { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import type { Notebook } from '@jupyterlab/notebook';

/** The mimetype CodeMirror maps to its YAML language. */
export const YAML_MIMETYPE = 'text/x-yaml';

const MAGIC = /^%%permutate(\s|$)/;

/** A cell is a `%%permutate` cell when its first line is that magic (what IPython runs as the magic). */
export function isPermutateCell(source: string): boolean {
  return MAGIC.test(source);
}

/** Keep every `%%permutate` cell of the notebook on YAML, and give a cell back the notebook's language when the magic goes. */
export function highlightPermutateCells(notebook: Notebook, languages: IEditorLanguageRegistry | null): void {
  const watched = new WeakSet<ICellModel>();

  const settle = (cell: ICodeCellModel): void => {
    if (cell.isDisposed) {
      return;
    }
    if (!isPermutateCell(cell.sharedModel.getSource())) {
      if (cell.mimeType === YAML_MIMETYPE) {
        cell.mimeType = notebook.codeMimetype; // only what this extension set is undone
      }
    } else if (cell.mimeType !== YAML_MIMETYPE) {
      const current = cell.mimeType;
      if (languages === null) {
        cell.mimeType = YAML_MIMETYPE;
        return;
      }
      void languages
        .getLanguage(current)
        .catch(() => null)
        .then(() => {
          if (!cell.isDisposed && cell.mimeType === current && isPermutateCell(cell.sharedModel.getSource())) {
            cell.mimeType = YAML_MIMETYPE;
          }
        });
    }
  };

  const watch = (cell: ICellModel): void => {
    if (cell.type !== 'code' || watched.has(cell)) {
      return;
    }
    watched.add(cell);
    const code = cell as ICodeCellModel;
    code.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        settle(code);
      }
    });
    code.mimeTypeChanged.connect(() => settle(code)); // the notebook resets it on load and on a kernel change
    settle(code);
  };

  const watchModel = (): void => {
    const cells = notebook.model?.cells;
    if (!cells) {
      return;
    }
    for (const cell of cells) {
      watch(cell);
    }
    cells.changed.connect((_, change) => {
      if (change.type === 'add' || change.type === 'set') {
        change.newValues.forEach(watch);
      }
    });
  };

  notebook.modelChanged.connect(watchModel);
  watchModel();
}
