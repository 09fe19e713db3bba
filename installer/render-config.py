"""Renders installer/Packager.toml into the JSON cargo-packager takes, adding what only a build
knows: the version (from Cargo.toml), the folder of the built binaries and the output folder; the
.deb's dependencies come from installer/debian/runtime-packages.txt without its comments.

With --nsis it renders the same description into the defines and macros installer/windows/aetheria.nsi
includes instead (cargo-packager's own NSIS path downloads its plugins from GitHub, which the CI
machine cannot reach, and needs them on Linux too).

usage: python3 installer/render-config.py [--nsis ICON] BINARIES_DIR OUT_DIR [VERSION]   (run from the repo top)
"""
import json
import os
import re
import sys
import tomllib


def camel(value):
    if isinstance(value, dict):
        return {re.sub(r"-(\w)", lambda m: m.group(1).upper(), k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def nsis_string(text):
    """An NSIS string literal: `$` and quotes escaped, so paths mean themselves."""
    return '"' + text.replace("$", "$$").replace('"', '$\\"') + '"'


def nsis_target(path):
    """A target folder of Packager.toml (`$APPDATA/Aetheria/...`): its NSIS variable kept."""
    # The uninstaller deletes these folders recursively: one step out of them would delete more.
    parts = path.split("/")
    if (
        not re.fullmatch(r"\$(APPDATA|LOCALAPPDATA)(/[A-Za-z0-9._ -]+)+", path)
        or any(part.strip(" .") == "" for part in parts[1:])
    ):
        sys.exit(f"render-config: {path!r} is not a folder under $APPDATA or $LOCALAPPDATA")
    return '"' + path.replace("/", "\\") + '"'


def nsis(config, icon):
    """The defines and macros the NSIS script includes."""
    binary = config["binaries"][0]["path"] + ".exe"
    quad = ".".join((re.findall(r"\d+", config["version"]) + ["0"] * 4)[:4])
    lines = [
        f'!define {name} {nsis_string(value)}'
        for name, value in [
            ("PRODUCT", config["productName"]),
            ("IDENTIFIER", config["identifier"]),
            ("VERSION", config["version"]),
            ("VERSION_QUAD", quad),
            ("PUBLISHER", config["publisher"]),
            ("HOMEPAGE", config["homepage"]),
            ("COPYRIGHT", config["copyright"]),
            ("BINARY", binary),
            ("BINARY_PATH", os.path.join(config["binariesDir"], binary)),
            ("LICENSE", os.path.abspath(config["licenseFile"])),
            ("ICON", os.path.abspath(icon)),
            (
                "OUTFILE",
                os.path.join(
                    config["outDir"], f'{config["productName"]}_{config["version"]}_x64-setup.exe'
                ),
            ),
        ]
    ]
    install, uninstall, folders = [], [], []
    for resource in config.get("resources", []):
        folder, name = os.path.split(resource["target"])
        folder = folder.replace("/", "\\")
        parts = resource["target"].split("/")
        if not re.fullmatch(r"[A-Za-z0-9._ -]+(/[A-Za-z0-9._ -]+)*", resource["target"]) or any(
            part.strip(" .") == "" for part in parts
        ):
            sys.exit(f"render-config: bad resource target {resource['target']!r}")
        source = nsis_string(os.path.abspath(resource["src"]))
        install += [f'  SetOutPath "$INSTDIR\\{folder}"', f'  File "/oname={name}" {source}']
        uninstall.append(f'  Delete "$INSTDIR\\{folder}\\{name}"'.replace("\\\\", "\\"))
        if folder not in folders:
            folders.append(folder)
    install.append('  SetOutPath "$INSTDIR"')
    uninstall += [f'  RMDir "$INSTDIR\\{folder}"' for folder in folders if folder]
    data = []
    for path in config["nsis"].get("appdataPaths", []):
        target = nsis_target(path)
        data.append(f"  RMDir /r {target}")
        # The now-empty parent (`$APPDATA/Aetheria`), never a folder with other things in it.
        parent = target.rsplit("\\", 1)[0] + '"'
        if parent.count("\\") >= 1:
            data.append(f"  RMDir {parent}")
    for name, body in [
        ("InstallResources", install),
        ("UninstallResources", uninstall),
        ("DeleteAppData", data),
    ]:
        lines += [f"!macro {name}", *body, "!macroend"]
    return "\n".join(lines) + "\n"


def main():
    args = sys.argv[1:]
    icon = None
    if args[:1] == ["--nsis"]:
        icon, args = args[1], args[2:]
    binaries, out = args[0], args[1]
    with open("Cargo.toml", "rb") as f:
        version = tomllib.load(f)["workspace"]["package"]["version"]
    if len(args) > 2:
        version = args[2]
    with open("installer/Packager.toml", "rb") as f:
        config = camel(tomllib.load(f))
    config.update(version=version, binariesDir=binaries, outDir=out)
    if icon is not None:
        print(nsis(config, icon), end="")
        return
    with open(config["deb"]["depends"]) as f:
        config["deb"]["depends"] = [
            line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")
        ]
    print(json.dumps(config))


main()
