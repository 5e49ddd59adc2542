#!/usr/bin/env python3
"""Fails when a file in src/<folder>/ includes a header of another folder that the folder's
README.md does not allow.

Each src/<folder>/README.md says what the folder may include in a sentence that starts with
"May include"; the backticked paths in its first clause (up to the first ';' or the end of the
sentence) are the allowance: `queue/` allows every header of queue/, `engine/engine.h` that one
header. "May include only the standard library" allows no other folder. Includes of the
folder's own headers are always allowed; src/main.cc (the wiring) may include anything.

usage: check_includes.py SRC_DIR
       check_includes.py --self-test   (the check catches a forbidden include in a scratch tree)
"""
import pathlib
import re
import sys
import tempfile

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
MAY_INCLUDE = re.compile(r"May include(.*?)(?:;|\.(?:\s|$))", re.S)
TICKED = re.compile(r"`([^`]+)`")


def allowance(readme):
    """The include prefixes a README allows, or None when it has no "May include" sentence."""
    match = MAY_INCLUDE.search(readme.read_text())
    if not match:
        return None
    return [item for item in TICKED.findall(match.group(1)) if "/" in item]


def check(src):
    """Every forbidden include under `src`, as messages."""
    folders = sorted(p for p in src.iterdir() if p.is_dir() and list(p.glob("*.h")))
    names = {folder.name for folder in folders}
    problems = []
    for folder in folders:
        readme = folder / "README.md"
        allowed = allowance(readme) if readme.exists() else None
        if allowed is None:
            problems.append(f"{folder}: no README.md with a 'May include' sentence")
            continue
        for source in sorted(folder.glob("*")):
            if source.suffix not in (".h", ".cc"):
                continue
            text = source.read_text()
            for match in INCLUDE.finditer(text):
                target = match.group(1)
                other = target.split("/", 1)[0]
                if "/" not in target or other == folder.name or other not in names:
                    continue
                if any(target == a or (a.endswith("/") and target.startswith(a)) for a in allowed):
                    continue
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f'{source}:{line}: includes "{target}", which {readme} does '
                                f"not allow (May include: {', '.join(allowed) or 'no other folder'})")
    return problems


def self_test():
    """A scratch tree with one allowed and one forbidden include of each kind."""
    files = {
        "low/README.md": "# low\nMay include only the standard library.\n",
        "low/a.h": "#pragma once\n#include <string>\n#include \"low/b.h\"\n",
        "low/b.h": "#pragma once\n",
        "mid/README.md": "# mid\nMay include `low/`; never `top/`.\n",
        "mid/m.h": "#pragma once\n#include \"low/a.h\"\n",
        "mid/m.cc": "#include \"mid/m.h\"\n\n#include \"top/t.h\"\n",
        "top/README.md": "# top\nMay include `mid/m.h`.\n",
        "top/t.h": "#pragma once\n#include \"mid/m.h\"\n#include \"low/a.h\"\n",
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        problems = check(root)
    expected = [("mid/m.cc:3:", '"top/t.h"'), ("top/t.h:3:", '"low/a.h"')]
    found = [any(where in p and what in p for p in problems) for where, what in expected]
    if len(problems) != len(expected) or not all(found):
        print("check_includes self-test failed; problems found:", *problems, sep="\n  ",
              file=sys.stderr)
        return 1
    print("check_includes self-test: both forbidden includes caught, allowed ones passed")
    return 0


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "--self-test":
        return self_test()
    src = pathlib.Path(sys.argv[1])
    problems = check(src)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"check_includes: {len(problems)} forbidden include(s)", file=sys.stderr)
        return 1
    print(f"check_includes: every include under {src} allowed by its folder's README")
    return 0


if __name__ == "__main__":
    sys.exit(main())
