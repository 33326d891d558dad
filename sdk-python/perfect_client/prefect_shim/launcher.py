"""``python -m perfect_client.prefect FILE.py [args]`` and ``perfect worker --prefect FILE.py``:
run or serve a Prefect flow file on Perfect, the shim installed for this process only.

A feature the shim does not cover ends the process with one line naming it (exit 3), never a
traceback from inside the shim. The file's own errors are reported as Python reports them.
"""
import os
import re
import runpy
import sys
import traceback
from typing import List, Optional

from .core import UnsupportedAttribute, UnsupportedFeature
from .finder import install

EXIT_UNSUPPORTED = 3


def _unsupported_module(err):
    # type: (ImportError) -> Optional[str]
    """The name of a Prefect integration a file imports (``prefect_dask``, ``prefect_aws`` …)."""
    name = getattr(err, "name", None) or ""
    if name.startswith("prefect_") or name.startswith("prefect."):
        return name
    return None


def _missing_name(err):
    # type: (ImportError) -> Optional[str]
    """``prefect.deploy`` for ``from prefect import deploy`` of a name the shim lacks."""
    name = getattr(err, "name", None) or ""
    shim = "perfect_client.prefect_shim"
    if name == shim or name.startswith(shim + "."):
        name = "prefect" + name[len(shim):]
    match = re.match(r"cannot import name '([^']+)'", str(err))
    if match and (name == "prefect" or name.startswith("prefect.")):
        return "%s.%s" % (name, match.group(1))
    return None


def _say(line):
    # type: (str) -> None
    sys.stderr.write("perfect: %s\n" % line)
    sys.stderr.flush()


def _guarded(action):
    # type: (object) -> int
    try:
        action()  # type: ignore[operator]
    except (UnsupportedFeature, UnsupportedAttribute) as err:
        _say("%s" % err)
        return EXIT_UNSUPPORTED
    except ImportError as err:
        missing = _missing_name(err)
        if missing is not None:
            _say("%s is not supported by Perfect's Prefect shim" % missing)
            return EXIT_UNSUPPORTED
        module = _unsupported_module(err)
        if module is None:
            raise
        _say("the Prefect integration %s is not supported by Perfect's Prefect shim" % module)
        return EXIT_UNSUPPORTED
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        _say(str(code))
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


_SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _report(err):
    # type: (BaseException) -> None
    """The flow's own failure, as Python reports it but without frames of Perfect or runpy:
    what is left is the user's code (nothing at all for a returned Failed state)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(_SDK_DIR) and "runpy" not in os.path.basename(f.filename)]
    if frames:
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)))
    sys.stderr.write("".join(traceback.format_exception_only(type(err), err)))
    sys.stderr.flush()


def run_file(path, args=()):
    # type: (str, List[str]) -> int
    """Execute the Prefect file ``path`` as ``__main__`` (its ``if __name__ == "__main__":`` block
    runs: a flow called there is a direct run when PERFECT_URL is set, ``flow.serve(...)``
    serves it). The exit code."""
    if not os.path.isfile(path):
        _say("no such file: %s" % path)
        return EXIT_UNSUPPORTED
    install()
    sys.argv = [path] + list(args)
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)

    def action():
        try:
            runpy.run_path(path, run_name="__main__")
        except (UnsupportedFeature, UnsupportedAttribute, SystemExit, KeyboardInterrupt):
            raise
        except ImportError as err:
            if _unsupported_module(err) or _missing_name(err):
                raise
            traceback.print_exc()
            raise SystemExit(1)
        except BaseException as err:
            _report(err)
            raise SystemExit(1)

    return _guarded(action)


def serve_prefect_file(path, max_concurrent_runs=4):
    # type: (str, int) -> int
    """``perfect worker --prefect FILE.py``: serve every Prefect flow the file defines."""
    from ..cli import CliError, load_file
    from ..errors import FatalWorkerError
    from ..runner import serve
    from .core import Flow

    install()
    holder = {}

    def load():
        holder["module"] = load_file(path)

    code = _guarded(load)
    if code:
        return code
    flows = [v for v in vars(holder["module"]).values() if isinstance(v, Flow)]
    unique = []
    for item in flows:
        if item not in unique:
            unique.append(item)
    if not unique:
        raise CliError("%s defines no Prefect @flow at module level" % path)

    def run():
        try:
            serve(*unique, isolation="thread", max_concurrent_runs=max_concurrent_runs)
        except FatalWorkerError as err:
            _say(str(err))
            raise SystemExit(EXIT_UNSUPPORTED)

    return _guarded(run)


def main(argv=None):
    # type: (Optional[List[str]]) -> int
    """``python -m perfect_client.prefect FILE.py [args]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write("usage: python -m perfect_client.prefect FILE.py [args...]\n\n"
                         "Run an unmodified Prefect 2/3 flow file on Perfect (PERFECT_URL, PERFECT_CLIENT_ID,\n"
                         "PERFECT_TOKEN). Unsupported Prefect features end it with one line naming them.\n")
        return 0 if argv else EXIT_UNSUPPORTED
    return run_file(argv[0], argv[1:])
