"""Runs every ref_*.py in this folder: python3 run_all.py OUT_DIR."""
import importlib.util
import pathlib
import sys

import nfref

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for script in sorted(pathlib.Path(__file__).parent.glob("ref_*.py")):
    spec = importlib.util.spec_from_file_location(script.stem, script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    nfref.setup()
    mod.make(out)
