"""The import hook: ``prefect`` and ``prefect.<sub>`` resolve to ``perfect_client.prefect_shim``
and its modules, in this process only (``install`` is called by the launcher alone)."""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys

from .core import UnsupportedFeature

PREFIX = "perfect_client.prefect_shim"


class _Alias(importlib.abc.Loader):
    """Loads ``prefect.x`` as the shim's module ``x`` (the same module object)."""

    def __init__(self, target):
        self.target = target

    def create_module(self, spec):
        """The shim's module itself."""
        return importlib.import_module(self.target)

    def exec_module(self, module):
        """Nothing: ``import_module`` executed it."""


class ShimFinder(importlib.abc.MetaPathFinder):
    """Finds ``prefect`` and its submodules in the shim; a submodule the shim lacks is an
    ``UnsupportedFeature``."""

    def find_spec(self, fullname, path=None, target=None):
        """A spec aliasing ``prefect[.x]`` to the shim, None for other names."""
        if fullname != "prefect" and not fullname.startswith("prefect."):
            return None
        shim = PREFIX + fullname[len("prefect"):]
        if importlib.util.find_spec(shim) is None:
            raise UnsupportedFeature("the module %s" % fullname)
        is_package = hasattr(importlib.import_module(shim), "__path__")
        return importlib.machinery.ModuleSpec(fullname, _Alias(shim), is_package=is_package)


def install():
    # type: () -> None
    """Make ``import prefect`` find the shim in this process (ahead of a real ``prefect``)."""
    for name in [n for n in sys.modules if n == "prefect" or n.startswith("prefect.")]:
        if not getattr(sys.modules[name], "__name__", "").startswith(PREFIX):
            del sys.modules[name]  # a real prefect imported earlier in this process
    if not any(isinstance(f, ShimFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, ShimFinder())
