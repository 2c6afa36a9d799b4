"""``RequestBuilder``: an ipywidgets form that builds a permutate request.

Plugins are loaded as they are entered (so their operations can be picked as a test
case's expectation), and Validate / Run / Copy as YAML act on what the form holds.
Everything is reachable from code (``builder.request``, ``RequestBuilder.from_request``,
``builder.validate_button.click()``), which is how the tests drive it headless. The Run
button shows progress and the result below the form; ``builder.run()`` called in a cell
shows them under that cell.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import yaml

from ..core.api import run
from ..core.html_text import escape_html
from ..core.jobs.permutate import JobPlan, plan_job
from ..core.plugins.fetch import default_url_map
from ..core.plugins.loader import Plugin, PluginLoader
from ..core.request.models import load_request, normalise
from ..core.stats.units import matrix_line
from ..errors import PermutateError, PermutateWarning, one_line_warnings
from .builder_rows import GroupRow, OperationChoice, PermutationRow, TestCaseRow, _Row
from .builder_summary import summary_html, summary_text
from .clipboard import copy_bundle
from .progress import NotebookProgress, outcome_word, permutation_bars, with_progress

__all__ = ["RequestBuilder"]

_TOP = ("version", "name", "config", "test_plugin", "plugin_groups", "permutations", "test_cases")


def _section(title: str, rows: w.VBox, add: w.Button, header: str = "") -> w.VBox:
    parts: list[w.Widget] = [w.HTML(f"<b>{title}</b>")]
    if header:
        parts.append(w.HTML(f"<span style='color:#666;font-size:11px'>{header}</span>"))
    return w.VBox([*parts, rows, add])


def _parameters(op: Any) -> str:
    """`` (city*, unit)``: the parameters a tool takes, ``*`` for required, as ``permutate tools`` shows them."""
    params = op.parameters if isinstance(op.parameters, dict) else {}
    required = set(params.get("required") or ()) if isinstance(params.get("required"), list) else set()
    names = [f"{n}*" if n in required else str(n) for n in (params.get("properties") or {})]
    return f" <span style='color:#666'>({escape_html(', '.join(names))})</span>" if names else ""


class RequestBuilder:
    """A form for a permutate request; ``builder.request`` is the request it holds (plain form)."""

    def __init__(self, request: dict[str, Any] | None = None, *, loader: PluginLoader | None = None) -> None:
        data = normalise(dict(request or {}))
        self._extra = {k: v for k, v in data.items() if k not in _TOP}
        config = dict(data.get("config") or {})
        self._loader = loader or PluginLoader(default_url_map(config.get("url_map")))
        self.plugins: dict[str, Plugin] = {}
        self.name = w.Text(data.get("name", "my_job"), description="name")
        self.version = w.Text(str(data.get("version", "1.0.0")), description="version")
        self.languages = w.TagsInput(value=list(config.pop("auto_translate_to_languages", None) or ["English"]),
                                     allow_duplicates=False)
        self._config = config
        self._test_plugin = data.get("test_plugin")
        self.manifest = w.Text(placeholder="manifest URL or path", layout=w.Layout(width="420px"))
        self.add_plugin_button = w.Button(description="Add plugin", icon="plus")
        self.plugin_list = w.HTML()
        self.plugin_message = w.HTML()
        self.add_plugin_button.on_click(lambda _: self.add_plugin(self.manifest.value))
        self._group_box, self._permutation_box, self._case_box = w.VBox(), w.VBox(), w.VBox()
        self.groups: list[GroupRow] = []
        self.permutations: list[PermutationRow] = []
        self.test_cases: list[TestCaseRow] = []
        self._entries: dict[str, dict[str, Any]] = {}  # named sources (mcp, functions): location -> plugin entry
        for group in data.get("plugin_groups") or []:
            for ref in group.get("plugins") or []:
                if isinstance(ref, dict):
                    self._load(ref if "manifest_url" not in ref else str(ref["manifest_url"]), quiet=True)
        for group in data.get("plugin_groups") or []:
            self._add_group(group)
        for perm in data.get("permutations") or []:
            self._add_permutation(perm)
        for case in data.get("test_cases") or []:
            self._add_case(case)
        self.validate_button = w.Button(description="Validate", icon="check")
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.run_provider = w.Dropdown(options=[("models as written", ""), ("the local model", "local")], value="",
                                       description="run on", tooltip="--provider local: the embedded model behind "
                                       "every permutation", layout=w.Layout(width="260px"))
        self.yaml_button = w.Button(description="Copy as YAML", icon="copy")
        self.output = w.Output()
        self.last_result: Any = None
        self._result_slot: Any = None  # a plain display under the form: the Run result saved with the notebook
        self.validate_button.on_click(lambda _: self._guard(self.validate))
        self.run_button.on_click(lambda _: self._guard(self._run_in_form))
        self.yaml_button.on_click(lambda _: self._guard(self._show_yaml))
        self._refresh_plugins()
        self.widget = w.VBox([
            w.HBox([self.name, self.version]),
            w.HTML("<b>Plugins</b>"), w.HBox([self.manifest, self.add_plugin_button]), self.plugin_message, self.plugin_list,
            _section("Plugin groups", self._group_box, self._button("Add group", lambda: self._add_group({}))),
            _section("Permutations", self._permutation_box, self._button("Add permutation", lambda: self._add_permutation({})),
                     "name · provider · model · temperature · max_tokens · selector · plugin group"),
            _section("Test cases", self._case_box, self._button("Add test case", lambda: self._add_case({})),
                     "name · type · prompt · expected operation · method · expected parameters (JSON)"),
            w.HBox([w.HTML("<b>Languages</b>&nbsp;"), self.languages]),
            w.HBox([self.validate_button, self.run_button, self.run_provider, self.yaml_button],
                   layout=w.Layout(flex_flow="row wrap")),
            self.output,
        ])

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_request(cls, source: Any, **kwargs: Any) -> RequestBuilder:
        """A builder holding a request given as a path, YAML/JSON text, a dict or a JobRequest.

        The request is validated and written in its plain form (defaults left out), so
        form -> YAML -> form gives back the same form.
        """
        return cls(load_request(source).to_dict(), **kwargs)

    def _button(self, label: str, action: Callable[[], object]) -> w.Button:
        button = w.Button(description=label, icon="plus")
        button.on_click(lambda _: action())
        return button

    def _remove(self, row: _Row) -> None:
        for rows in (self.groups, self.permutations, self.test_cases):
            if row in rows:
                rows.remove(row)  # type: ignore[arg-type]
        self._sync_rows()

    def _add_group(self, data: dict[str, Any]) -> GroupRow:
        if not data:
            data = {"name": f"group{len(self.groups) + 1}", "plugins": [self._entry(p) for p in self.plugins]}
        row = GroupRow(data, self._plugin_names(), self._remove, entry=self._entry)
        row.name.observe(lambda _: self._refresh_groups(), "value")
        self.groups.append(row)
        self._sync_rows()
        self._refresh_groups()
        return row

    def _add_permutation(self, data: dict[str, Any]) -> PermutationRow:
        if not data:
            data = {"name": f"permutation{len(self.permutations) + 1}",
                    "llm": {"provider": "OpenAIChat", "model_name": "gpt-4o-mini", "temperature": 0.0},
                    "tool_selector": {"provider": "OpenAI"}}
        row = PermutationRow(data, self._group_names(), self._remove)
        self.permutations.append(row)
        self._sync_rows()
        return row

    def _add_case(self, data: dict[str, Any]) -> TestCaseRow:
        if not data:
            data = {"name": f"test{len(self.test_cases) + 1}", "type": "plugin_selector"}
        row = TestCaseRow(data, self._operation_choices(), self._remove)
        self.test_cases.append(row)
        self._sync_rows()
        return row

    def add_group(self) -> GroupRow:
        """Add an empty plugin group row to the form."""
        return self._add_group({})

    def add_permutation(self) -> PermutationRow:
        """Add an empty permutation row to the form."""
        return self._add_permutation({})

    def add_test_case(self) -> TestCaseRow:
        """Add an empty test case row to the form."""
        return self._add_case({})

    def _sync_rows(self) -> None:
        self._group_box.children = [r.box for r in self.groups]
        self._permutation_box.children = [r.box for r in self.permutations]
        self._case_box.children = [r.box for r in self.test_cases]

    # -- plugins ----------------------------------------------------------------------------
    def _entry(self, location: str) -> dict[str, Any]:
        """The plugin entry a group writes for a loaded plugin: its manifest_url, or the named source's entry."""
        return self._entries.get(location) or {"manifest_url": location}

    def _load(self, source: str | dict[str, Any], *, quiet: bool = False) -> Plugin | None:
        if isinstance(source, str) and not source.strip():
            return None
        try:
            with one_line_warnings():
                if isinstance(source, str):
                    location, plugin = source.strip(), self._loader.load(source.strip())
                else:
                    location, plugin = self._load_source(source)
        except PermutateError as exc:
            self.plugin_message.value = f"<span style='color:#b00'>{escape_html(str(exc))}</span>"
            return None
        self.plugins[location] = plugin
        if not quiet:
            self.plugin_message.value = (f"<span style='color:green'>loaded {escape_html(plugin.name)}: "
                                         f"{len(plugin.operations)} operations</span>")
        return plugin

    def _load_source(self, entry: dict[str, Any]) -> tuple[str, Plugin]:
        """A named source (``{name, mcp: ...}`` or ``{name, functions: ...}``): its tools listed now."""
        from pydantic import ValidationError

        from ..core.plugins.tool_sources import load_ref
        from ..core.request.models import PluginRef
        from ..errors import RequestError

        try:
            ref = PluginRef.model_validate(entry)
        except ValidationError as exc:
            raise RequestError(f"plugin {entry.get('name')!r}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        timeout = float(self._config.get("timeout_sec") or 60)
        plugin = load_ref(self._loader, ref, timeout)
        self._entries[ref.location] = dict(entry)
        return ref.location, plugin

    def add_plugin(self, location: str | dict[str, Any]) -> Plugin | None:
        """Load a manifest (checked now) or a named source (``{name, mcp: {...}}``, ``{name, functions: ...}``),
        list its operations or tools, offer it to groups and test cases."""
        plugin = self._load(location)
        if plugin is not None:
            self.manifest.value = ""
            self._refresh_plugins()
        return plugin

    def _operation_choices(self) -> list[OperationChoice]:
        return [
            (f"{plugin.name}: {op.method} {op.path}".replace(":  ", ": "), (location, op.url, op.method.lower()))
            for location, plugin in self.plugins.items()
            for op in plugin.operations
        ]

    def _plugin_names(self) -> dict[str, str]:
        return {location: plugin.name for location, plugin in self.plugins.items()}

    def _refresh_plugins(self) -> None:
        items = "".join(
            f"<li><b title='{escape_html(loc, quote=True)}'>{escape_html(p.name)}</b> "
            f"<span style='color:#666'>({len(p.operations)} operations; hover for the URL)</span><ul>"
            + "".join(f"<li>{escape_html(f'{op.method} {op.url}'.strip())} — {escape_html(op.summary or '')}"
                      + _parameters(op) + "</li>"
                      for op in p.operations[:20])
            + "</ul></li>"
            for loc, p in self.plugins.items()
        )
        self.plugin_list.value = f"<ul>{items}</ul>" if items else "<i>no plugins yet</i>"
        for group in self.groups:
            group.set_plugins(self._plugin_names())
        choices = self._operation_choices()
        for case in self.test_cases:
            case.set_operations(choices)

    def _group_names(self) -> list[str]:
        return [g.name.value for g in self.groups]

    def _refresh_groups(self) -> None:
        names = self._group_names()
        for perm in self.permutations:
            perm.set_groups(names)

    # -- the request ------------------------------------------------------------------------
    @property
    def request(self) -> dict[str, Any]:
        """The request the form holds, in the plain form (not validated: see ``validate``)."""
        config = {**self._config, "auto_translate_to_languages": list(self.languages.value)}
        data: dict[str, Any] = {"version": self.version.value, "name": self.name.value, "config": config}
        if self._test_plugin:
            data["test_plugin"] = self._test_plugin
        data["plugin_groups"] = [g.value() for g in self.groups]
        data["permutations"] = [p.value() for p in self.permutations]
        data["test_cases"] = [c.value() for c in self.test_cases]
        return {**data, **self._extra}

    @property
    def yaml(self) -> str:
        """The form's request as YAML (``Copy as YAML``)."""
        return yaml.safe_dump(self.request, sort_keys=False, allow_unicode=True)

    def validate(self) -> Any:
        """Check the request and load its plugins; shows the matrix size (or the errors) below."""
        with warnings.catch_warnings():  # the impossible expectations are shown below, not on stderr
            warnings.simplefilter("ignore", PermutateWarning)
            plan = plan_job(self.request, check_keys=False)
        self._show_text("\n".join([
            "valid: " + matrix_line(len(plan.request.permutations), len(plan.request.test_cases), len(plan.languages),
                                    plan.request.config.repeats, plan.total_runs),
            *(f"warning: impossible expectation: {line}" for line in plan.warnings)]))
        return plan

    def _plan(self, provider: str | None) -> JobPlan:
        with one_line_warnings():
            return plan_job(self.request, provider=provider or None)

    def run(self, **kwargs: Any) -> Any:
        """Run the request; progress shows under the calling cell and the result is returned (and kept in ``last_result``).

        ``provider="local"`` puts the embedded model behind every permutation.
        """
        plan = self._plan(kwargs.pop("provider", None))
        self.last_result = with_progress(*permutation_bars(plan),
                                         lambda progress: run(plan, reporter=progress, **kwargs))
        return self.last_result

    def _run_in_form(self) -> Any:
        """The Run button: progress, then the result, below the form (on the model chosen beside the button)."""
        plan = self._plan(self.run_provider.value)
        totals, _, labels = permutation_bars(plan)
        progress = NotebookProgress(totals, labels=labels)
        # Outputs are set on the Output widget's state, not printed inside it: printed text would
        # also reach the cell's own outputs where no frontend reroutes it (nbval, nbclient).
        self.output.outputs = ()
        self.output.append_display_data(progress.box)
        outcome = "stopped"
        try:
            self.last_result = run(plan, reporter=progress)
            outcome = outcome_word(self.last_result)
        finally:
            progress.close(outcome)
            self.output.outputs = ()  # the closed bars go, whatever happened
        if self._result_slot is not None:  # a plain output of the cell: it survives saving and reopening
            self._result_slot.update(self.last_result)
        else:
            self.output.append_display_data(self.last_result)
        return self.last_result

    def _show_text(self, text: str) -> None:
        self.output.outputs = ()
        self.output.append_stdout(text + "\n")

    def _show_yaml(self) -> None:
        """The YAML in a text box, copied to the clipboard where the browser allows it (else it says it could not)."""
        self.output.outputs = ()
        self.output.append_display_data(w.Textarea(self.yaml, layout=w.Layout(width="100%", height="300px")))
        self.output.outputs = (*self.output.outputs,
                               {"output_type": "display_data", "data": copy_bundle(self.yaml), "metadata": {}})
        self.output.append_stdout("builder.to_cell() in a cell puts this request in a new %%permutate cell below it\n")

    @property
    def cell(self) -> str:
        """The request as a ``%%permutate`` cell, with the model chosen beside Run (``--provider local``)."""
        provider = f" --provider {self.run_provider.value}" if self.run_provider.value else ""
        return f"%%permutate --out result{provider}\n" + self.yaml

    def to_cell(self) -> None:
        """Put the request in a new ``%%permutate`` cell below the current one (IPython's ``set_next_input``);
        the extension is loaded first if it is not, so the new cell runs as it is."""
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise PermutateError("to_cell() needs IPython (a notebook); use builder.cell for the text")
        if "permutate" not in shell.magics_manager.magics["cell"]:  # as %load_ext permutate_nb does
            from .magics import load_ipython_extension

            load_ipython_extension(shell)
        shell.set_next_input(self.cell, replace=False)

    def _guard(self, action: Callable[[], Any]) -> None:
        try:
            action()
        except PermutateError as exc:
            self._show_text(f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return (f"RequestBuilder({self.name.value!r}: {len(self.plugins)} plugins, {len(self.groups)} groups, "
                f"{len(self.permutations)} permutations, {len(self.test_cases)} test cases)")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The live form, and beside it a static summary (``text/html``, text) for where the widget cannot render."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        names = {location: plugin.name for location, plugin in self.plugins.items()}
        return {**data, "text/plain": summary_text(self.request, names, self.run_provider.value),
                "text/html": summary_html(self.request, names, self.run_provider.value)}

    def _ipython_display_(self) -> None:
        """The form, then a plain output under it that Run fills with the result (saved with the notebook)."""
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        self._result_slot = display({"text/plain": ""}, raw=True, display_id=True)
