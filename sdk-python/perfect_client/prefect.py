"""``python -m perfect_client.prefect FILE.py [args]``: run an unmodified Prefect flow file on
Perfect (see ``prefect_shim``). Importing this module does nothing else."""
import sys

if __name__ == "__main__":
    from .prefect_shim.launcher import main

    sys.exit(main())
