"""Tests installer/render-config.py's NSIS rendering against hostile packaging input: the
uninstaller deletes the rendered data folders recursively and the installer writes the rendered
resource paths, so nothing may step out of them or inject NSIS syntax.

usage: python3 -m unittest discover -s installer/tests   (from the repository's top)
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import tomllib
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def render(packager_toml=None):
    """Runs the renderer from a copy of the repository's packaging files, optionally altered."""
    with tempfile.TemporaryDirectory() as top:
        top = pathlib.Path(top)
        (top / "installer" / "debian").mkdir(parents=True)
        (top / "Cargo.toml").write_text((ROOT / "Cargo.toml").read_text())
        text = packager_toml or (ROOT / "installer" / "Packager.toml").read_text()
        (top / "installer" / "Packager.toml").write_text(text)
        return subprocess.run(
            [sys.executable, str(ROOT / "installer" / "render-config.py"), "--nsis", "icon.ico", "bin", "out", "1.2.3"],
            cwd=top,
            capture_output=True,
            text=True,
        )


def with_nsis(appdata=None, resources=None):
    """Packager.toml with its data folders or resources replaced (JSON strings are TOML strings)."""
    text = (ROOT / "installer" / "Packager.toml").read_text()
    if appdata is not None:
        start = text.index("appdata-paths = [")
        end = text.index("]\n", start) + 2
        text = text[:start] + f"appdata-paths = {json.dumps(appdata)}\n" + text[end:]
        assert tomllib.loads(text)["nsis"]["appdata-paths"] == appdata
    if resources is not None:
        block = "resources = [" + ", ".join(f'{{ src = "assets/LICENSE", target = {json.dumps(t)} }}' for t in resources) + "]"
        start = text.index("resources = [")
        end = text.index("]\n", start) + 2
        text = text[:start] + block + "\n" + text[end:]
    return text


class RenderNsis(unittest.TestCase):
    def test_the_real_description_renders(self):
        out = render()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('!define VERSION "1.2.3"', out.stdout)
        self.assertIn('!define VERSION_QUAD "1.2.3.0"', out.stdout)
        self.assertIn('!define BINARY "aetheria.exe"', out.stdout)
        self.assertIn('RMDir /r "$APPDATA\\Aetheria\\aetheria"', out.stdout)
        self.assertIn('File "/oname=packages.txt"', out.stdout)

    def test_data_folders_cannot_step_out(self):
        for bad in ["$APPDATA/..", "$APPDATA/Aetheria/..", "$APPDATA/./x/ ", "$APPDATA", "C:/Windows", "$APPDATA/a\"b", "$PROFILE/x"]:
            with self.subTest(bad=bad):
                out = render(with_nsis(appdata=[bad]))
                self.assertNotEqual(out.returncode, 0, f"{bad!r} was accepted:\n{out.stdout}")
                self.assertIn("is not a folder under", out.stderr)
                self.assertNotIn("RMDir /r", out.stdout)

    def test_resources_stay_inside_the_install_folder(self):
        for bad in ["../evil.dll", "sandbox/../../x", "a\\..\\b", "$INSTDIR/x", 'a"b', "/abs"]:
            with self.subTest(bad=bad):
                out = render(with_nsis(resources=[bad]))
                self.assertNotEqual(out.returncode, 0, f"{bad!r} was accepted:\n{out.stdout}")
                self.assertIn("bad resource target", out.stderr)

    def test_names_are_escaped(self):
        text = (ROOT / "installer" / "Packager.toml").read_text().replace(
            'publisher = "Aetheria developers"', 'publisher = "Evil $INSTDIR \\" devs"'
        )
        out = render(text)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('!define PUBLISHER "Evil $$INSTDIR $\\" devs"', out.stdout)


if __name__ == "__main__":
    unittest.main()
