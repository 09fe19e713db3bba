"""Renders installer/Packager.toml into the JSON cargo-packager takes, adding what only a build
knows: the version (from Cargo.toml), the folder of the built binaries and the output folder; the
.deb's dependencies come from installer/debian/runtime-packages.txt without its comments.

usage: python3 installer/render-config.py BINARIES_DIR OUT_DIR [VERSION]   (run from the repo top)
"""
import json
import re
import sys
import tomllib


def camel(value):
    if isinstance(value, dict):
        return {re.sub(r"-(\w)", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def main():
    binaries, out = sys.argv[1], sys.argv[2]
    with open("Cargo.toml", "rb") as f:
        version = tomllib.load(f)["workspace"]["package"]["version"]
    if len(sys.argv) > 3:
        version = sys.argv[3]
    with open("installer/Packager.toml", "rb") as f:
        config = camel(tomllib.load(f))
    config.update(version=version, binariesDir=binaries, outDir=out)
    with open(config["deb"]["depends"]) as f:
        config["deb"]["depends"] = [
            line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")
        ]
    print(json.dumps(config))


main()
