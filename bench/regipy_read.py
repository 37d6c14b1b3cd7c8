"""Reads what `tlsreg audit` reads from offline SYSTEM hives, with regipy:
Select\\Current, then the four TLS 1.2 values of the control set it names.

    python3 regipy_read.py HIVE...

One line per hive on standard output. Used by bench/run.sh as the Python
peer of the benchmark.
"""

import sys

from regipy.registry import RegistryHive

TLS12 = "\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\"


def read(path):
    hive = RegistryHive(path)
    current = hive.get_key("\\Select").get_value("Current")
    found = [f"Current={current}"]
    control_set = f"\\ControlSet{current:03d}"
    for side in ("Client", "Server"):
        key = hive.get_key(control_set + TLS12 + side)
        for name in ("DisabledByDefault", "Enabled"):
            found.append(f"{side}\\{name}={key.get_value(name)}")
    return " ".join(found)


def main(paths):
    out = sys.stdout
    for path in paths:
        out.write(f"{path}: {read(path)}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
