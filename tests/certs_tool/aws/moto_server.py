"""`python -m tests.certs_tool.aws.moto_server [--pem-ids]`: moto's server mode on 127.0.0.1:0.

moto computes certificateIds as AWS does (SHA-256 of the DER, spec §5) only with its `iot`
`use_valid_cert` setting, which its /moto-api/config endpoint cannot set; this sets it before
the server starts. --pem-ids keeps moto's default (a hash of the PEM text), a target that
computes ids wrongly.
"""

from __future__ import annotations

import sys

from moto.core.config import default_user_config
from moto.server import main

if __name__ == "__main__":
    default_user_config["iot"] = {"use_valid_cert": "--pem-ids" not in sys.argv[1:]}
    main(["-p0", "-H", "127.0.0.1"])
