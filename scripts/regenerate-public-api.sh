#!/usr/bin/env bash
# Keeps the frozen public API files (PublicAPI.Shipped.txt / PublicAPI.Unshipped.txt) of the libraries under src/ in
# step with the code, from the analyzer's own diagnostics: each project is built, every RS0016 (public symbol not
# declared) adds its symbol to PublicAPI.Unshipped.txt, every RS0017 (declared symbol gone) removes it from Unshipped
# or, if it was shipped, adds a *REMOVED* line; repeated until a build reports neither (a library's errors hide those of
# the projects that reference it, hence the repetition). Review the diff, then commit the .txt files.
#
# Usage (from anywhere in the repository):
#   bash scripts/regenerate-public-api.sh [--ship] [--reset] [path/to/X.csproj ...]
#     no project     every library under src/ (tracked csproj files that are not executables)
#     --ship         then move Unshipped into Shipped (a release: what exists now is shipped)
#     --reset        first empty both files, so they are rebuilt from the code alone (implies --ship)
# Each build is `dotnet build <csproj> -nologo -v:q -p:TreatWarningsAsErrors=false`, about a minute per library.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(git rev-parse --show-toplevel)"

ship=false
reset=false
projects=()
for arg in "$@"; do
  case "$arg" in
    --ship) ship=true ;;
    --reset) reset=true; ship=true ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) projects+=("$arg") ;;
  esac
done
if [ ${#projects[@]} -eq 0 ]; then
  # sort -u: during an unresolved merge git ls-files lists a conflicted path once per stage.
  while IFS= read -r csproj; do
    grep -q '<OutputType>Exe</OutputType>' "$csproj" || projects+=("$csproj")
  done < <(git ls-files 'src/*.csproj' 'src/**/*.csproj' | sort -u)
fi

for csproj in "${projects[@]}"; do
  [ -f "$csproj" ] || { echo "no such project: $csproj" >&2; exit 2; }
  dir=$(dirname "$csproj")
  for kind in Shipped Unshipped; do
    if $reset || [ ! -f "$dir/PublicAPI.$kind.txt" ]; then printf '#nullable enable\n' > "$dir/PublicAPI.$kind.txt"; fi
  done
done

# The files are inputs of the compile: touching them makes an up-to-date project report its diagnostics again.
for csproj in "${projects[@]}"; do touch "$(dirname "$csproj")"/PublicAPI.*.txt; done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for csproj in "${projects[@]}"; do
  echo "== $csproj"
  for round in 1 2 3 4 5 6; do
    # RS0016/RS0017 come out as warnings here; a failed build still prints them, so only the output matters.
    dotnet build "$csproj" -nologo -v:q -p:TreatWarningsAsErrors=false >"$log" 2>&1 || true
    if ! changed=$(python3 "$here/public_api_from_build.py" "$log"); then
      cat "$log" >&2
      exit 1
    fi
    [ -n "$changed" ] && echo "$changed"
    [ -z "$changed" ] && break
    [ "$round" -eq 6 ] && { echo "still changing after $round builds: stopping" >&2; exit 1; }
  done
  if grep -q ' error ' "$log"; then
    echo "$csproj still fails to build for other reasons:" >&2
    grep ' error ' "$log" | sort -u | head -20 >&2
    exit 1
  fi
done

if $ship; then
  for csproj in "${projects[@]}"; do
    dir=$(dirname "$csproj")
    python3 "$here/public_api_from_build.py" --ship "$dir"
  done
fi
echo "check: CI=true dotnet build <project> (RS0016/RS0017 must not appear); review git diff -- '*PublicAPI*.txt'"
