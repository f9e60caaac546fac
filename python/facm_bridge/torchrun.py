"""`torchrun` for this package: `python -m facm_bridge.torchrun --nproc_per_node=N -m facm_bridge.train ...`.

The same as `torchrun` (torch.distributed.run), plus one compatibility fix: torch 1.13's launcher
(Debian 12's python3-torch) parses its --redirects / --tee values by iterating an IntFlag, which on
Python >= 3.11 no longer yields the zero member, so every launch fails with "'NoneType' object has
no attribute 'get'". Where that is the case the parser is replaced by one that maps the digits
directly; elsewhere nothing is changed.
"""

import re
import sys

from torch.distributed.elastic.multiprocessing import api as _api
from torch.distributed import run as _run


def _from_str(vm: str):
    if re.fullmatch(r"\d", vm):
        return _api.Std(int(vm))
    return {int(k): _api.Std(int(v)) for k, v in (p.split(":") for p in vm.split(","))}


if _api.Std.from_str("0") is None:
    _api.Std.from_str = staticmethod(_from_str)

if __name__ == "__main__":
    sys.exit(_run.main())
