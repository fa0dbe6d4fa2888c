"""spark-submit's entry file: `tenken <args>` on the driver of a submitted application.

scripts/submit.sh copies this file to the top of its staging folder (next to jobs/, conf/,
schemas/ and expectations/) and hands it to spark-submit, so that the driver imports the
jobs package from real files (its conf, schemas and data tables found beside it) while the
executors get the same package from the --py-files zip.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isdir(os.path.join(here, "jobs")):       # staged copy: prefer the files beside us
        if here not in sys.path:
            sys.path.insert(0, here)
        if os.path.isdir(os.path.join(here, "conf")):
            os.environ.setdefault("TENKEN_CONF_DIR", os.path.join(here, "conf"))
    from jobs.cli import main as cli_main

    cli_main(prog_name="tenken")


if __name__ == "__main__":
    main()
