#!/usr/bin/env python3
"""Applies a build's RS0016/RS0017 diagnostics to the PublicAPI files of the projects they name.

  public_api_from_build.py BUILD_LOG      add RS0016 symbols to PublicAPI.Unshipped.txt; for RS0017 drop the symbol
                                          from Unshipped, or mark it *REMOVED* there if it was shipped.
                                          Prints one line per change; nothing when the build reported neither.
  public_api_from_build.py --ship DIR     merge DIR's Unshipped into Shipped (applying *REMOVED*), empty Unshipped.
Used by regenerate-public-api.sh.
"""
import os
import re
import sys

HEADER = "#nullable enable"
REMOVED = "*REMOVED*"
# MSBuild prints each diagnostic with the project in brackets at the end (and again in the summary).
DIAGNOSTIC = re.compile(
    r"(?:warning|error) (RS001[67]): Symbol '(?P<symbol>.+)' is (?:not )?part of the declared (?:public )?API.*\[(?P<project>[^\]]+\.csproj)\]\s*$")


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip() and line.strip() != HEADER]


def write(path, lines):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER + "\n")
        for line in sorted(set(lines), key=lambda l: l.encode("utf-8")):
            f.write(line + "\n")


def apply(log):
    found = {}  # project dir -> {"RS0016": set, "RS0017": set}
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = DIAGNOSTIC.search(line)
            if not m:
                continue
            project_dir = os.path.dirname(m.group("project"))
            found.setdefault(project_dir, {"RS0016": set(), "RS0017": set()})[m.group(1)].add(m.group("symbol"))
    for project_dir, codes in sorted(found.items()):
        shipped_path = os.path.join(project_dir, "PublicAPI.Shipped.txt")
        unshipped_path = os.path.join(project_dir, "PublicAPI.Unshipped.txt")
        if not os.path.exists(shipped_path):
            sys.exit(f"{project_dir}: no PublicAPI.Shipped.txt (not a frozen library?)")
        shipped = set(read(shipped_path))
        unshipped = read(unshipped_path)
        rel = os.path.relpath(project_dir)
        for symbol in sorted(codes["RS0016"]):
            if symbol not in unshipped:
                unshipped.append(symbol)
                print(f"{rel}: + {symbol}")
        for symbol in sorted(codes["RS0017"]):
            if symbol in unshipped:
                unshipped.remove(symbol)
                print(f"{rel}: - {symbol}")
            elif symbol in shipped and REMOVED + symbol not in unshipped:
                unshipped.append(REMOVED + symbol)
                print(f"{rel}: {REMOVED}{symbol}")
        write(unshipped_path, unshipped)


def ship(project_dir):
    shipped_path = os.path.join(project_dir, "PublicAPI.Shipped.txt")
    unshipped_path = os.path.join(project_dir, "PublicAPI.Unshipped.txt")
    shipped = set(read(shipped_path))
    for line in read(unshipped_path):
        if line.startswith(REMOVED):
            shipped.discard(line[len(REMOVED):])
        else:
            shipped.add(line)
    write(shipped_path, shipped)
    write(unshipped_path, [])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--ship":
        ship(sys.argv[2])
    elif len(sys.argv) == 2:
        apply(sys.argv[1])
    else:
        sys.exit(__doc__)
