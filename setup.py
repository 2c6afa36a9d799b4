"""The JupyterLab extension's data files, which pyproject.toml cannot list by pattern,
in regular and editable installs.

The prebuilt extension (``permutate_nb/labextension``, built from ``labextension/`` by
``scripts/build-labextension.sh``) has content-hashed file names, so its files are collected here and
installed under ``share/jupyter/labextensions/permutate-nb``, where JupyterLab 4 and Notebook 7 find
prebuilt extensions. Editable installs (``pip install -e .``) copy them there
too. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.dist import Distribution

SOURCE = Path("permutate_nb") / "labextension"
TARGET = Path("share") / "jupyter" / "labextensions" / "permutate-nb"


def labextension_files() -> list[tuple[str, list[str]]]:
    """(install directory, files) for each directory of the built extension."""
    folders: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*")):
        if path.is_file():
            folders.setdefault(str(TARGET / path.parent.relative_to(SOURCE)), []).append(str(path))
    return sorted(folders.items())


class DataFilesInEditableInstalls(Distribution):
    """``pip install -e .`` installs data files too (CI's install, requirements-dev.txt).

    setuptools' editable wheel installs data files when ``distribution.has_data()`` says so, a method
    ``Distribution`` does not have (it has ``has_data_files``): without this, editable installs skip them.
    """

    def has_data(self) -> bool:
        return self.has_data_files()


setup(data_files=labextension_files(), distclass=DataFilesInEditableInstalls)
