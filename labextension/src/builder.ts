/**
 * A request builder saved in a notebook reopens as its static summary, not "model not found".
 *
 * The builder's output carries the widget view and, in the same bundle, a `text/html` summary of the
 * form (root class `permutate-builder-summary`). A trusted notebook renders the widget view; once the
 * kernel that held the form is gone, @jupyter-widgets/jupyterlab-manager has no model for it and shows
 * "Error displaying widget: model not found" (it never falls back to another mimetype).
 *
 * Why this hook: the widget manager replaces the notebook's widget renderer factory when its session
 * is ready, and hands its manager to renderers already shown by looking for its own renderer class
 * among the output area's children. So neither wrapping the factory once nor putting the renderer in a
 * container of ours would hold. Instead the notebook's rendermime decorates each widget renderer it
 * creates, in place: while that renderer holds no live view (loading, or the model is gone) and the
 * output has the builder's summary, the renderer's node shows the summary (sanitized, as an untrusted
 * notebook would show it); as soon as the live view is attached, the summary goes.
 */

import type { IRenderMime, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { renderHTML } from '@jupyterlab/rendermime';
import { Panel } from '@lumino/widgets';

export const WIDGET_VIEW_MIMETYPE = 'application/vnd.jupyter.widget-view+json';

/** The class of the summary's root element (permutate_nb/notebook/builder_summary.py). */
export const SUMMARY_CLASS = 'permutate-builder-summary';

/** The class of the element this extension shows the summary in. */
export const FALLBACK_CLASS = 'permutate-builder-fallback';

/** The builder summary in an output's bundle, or null when the output is not the builder's. */
export function builderSummary(model: IRenderMime.IMimeModel): string | null {
  const html = model.data['text/html'];
  return typeof html === 'string' && html.includes(SUMMARY_CLASS) ? html : null;
}

const decorated = new WeakSet<IRenderMimeRegistry>();

/** Make every widget renderer this rendermime creates show the builder's summary while it has no live view. */
export function keepBuilderSummaries(rendermime: IRenderMimeRegistry): void {
  if (decorated.has(rendermime)) {
    return;
  }
  decorated.add(rendermime);
  const create = rendermime.createRenderer.bind(rendermime);
  rendermime.createRenderer = (mimeType: string): IRenderMime.IRenderer => {
    const renderer = create(mimeType);
    if (mimeType === WIDGET_VIEW_MIMETYPE && renderer instanceof Panel) {
      withSummary(renderer as Panel & IRenderMime.IRenderer, rendermime);
    }
    return renderer;
  };
}

function withSummary(renderer: Panel & IRenderMime.IRenderer, rendermime: IRenderMimeRegistry): void {
  const renderModel = renderer.renderModel.bind(renderer);
  let fallback: SummaryFallback | null = null;
  renderer.renderModel = (model: IRenderMime.IMimeModel): Promise<void> => {
    const html = builderSummary(model);
    if (html !== null) {
      fallback = fallback ?? new SummaryFallback(renderer);
      fallback.show(html, rendermime);
    }
    return renderModel(model);
  };
}

/**
 * The summary inside one widget renderer's node. The renderer writes its messages with
 * `node.textContent` and attaches the live view as a child widget; a MutationObserver on the node
 * puts the summary back after each message and leaves the node alone once a child widget is there.
 */
class SummaryFallback {
  constructor(renderer: Panel) {
    this._renderer = renderer;
    this._host.className = `jp-RenderedHTMLCommon jp-RenderedHTML ${FALLBACK_CLASS}`;
    this._host.dataset.mimeType = 'text/html';
    this._observer = new MutationObserver(() => this._sync());
    this._observer.observe(renderer.node, { childList: true });
    renderer.disposed.connect(() => this._observer.disconnect());
  }

  /** Render the summary (sanitized: it is shown in place of a widget, with no more trust than the widget's text). */
  show(html: string, rendermime: IRenderMimeRegistry): void {
    void renderHTML({
      host: this._host,
      source: html,
      trusted: false,
      sanitizer: rendermime.sanitizer,
      resolver: rendermime.resolver,
      linkHandler: rendermime.linkHandler,
      shouldTypeset: false,
      latexTypesetter: rendermime.latexTypesetter
    });
    this._sync();
  }

  private _sync(): void {
    const node = this._renderer.node;
    if (this._renderer.isDisposed || this._renderer.widgets.length > 0) {
      return; // the live view is shown (attaching it cleared the node, the summary with it)
    }
    if (this._host.parentNode !== node || node.childNodes.length !== 1) {
      node.textContent = '';
      node.appendChild(this._host);
    }
  }

  private readonly _renderer: Panel;
  private readonly _host = document.createElement('div');
  private readonly _observer: MutationObserver;
}
