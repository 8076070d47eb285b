"""`certs-tool export`: the manifest in formats other tools read (spreadsheets, scripts)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import TextIO

from certs_tool.errors import InvalidInputError
from certs_tool.fleet import DeviceRecord

FORMATS = ("csv", "jsonl")
CSV_COLUMNS = (
    "thingName", "clientId", "certificateId", "certPath", "keyPath", "keyType", "notAfter",
    "policies",
)  # fmt: skip


def export_records(records: Sequence[DeviceRecord], out: TextIO, fmt: str) -> None:
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            row = record.to_json()
            row["policies"] = ";".join(record.policies)  # one cell; policy names have no ';'
            writer.writerow(row)
    else:
        raise InvalidInputError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
