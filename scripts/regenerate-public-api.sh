#!/usr/bin/env bash
# Regenerates the frozen public API (PublicAPI.Shipped.txt) of every library under src/ from the code as it is now.
# Run after merging branches that change public API on purpose; review the diff, then commit the .txt files.
# Usage: bash scripts/regenerate-public-api.sh   (from the repository root; takes about a minute per library)
set -euo pipefail
cd "$(dirname "$0")/.."
for csproj in $(git ls-files 'src/**/*.csproj'); do
  dir=$(dirname "$csproj")
  grep -q '<OutputType>Exe</OutputType>' "$csproj" && continue
  printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
done
for csproj in $(git ls-files 'src/**/*.csproj'); do
  grep -q '<OutputType>Exe</OutputType>' "$csproj" && continue
  echo "== $csproj"
  # The analyzer's code fix writes every public symbol into PublicAPI.Unshipped.txt.
  dotnet format analyzers "$csproj" --diagnostics RS0016 --severity info -v q
done
for csproj in $(git ls-files 'src/**/*.csproj'); do
  dir=$(dirname "$csproj")
  grep -q '<OutputType>Exe</OutputType>' "$csproj" && continue
  # Freeze: what exists now is shipped; new API starts in Unshipped.
  { echo '#nullable enable'; grep -v '^#nullable' "$dir/PublicAPI.Unshipped.txt" | LC_ALL=C sort -u; } > "$dir/PublicAPI.Shipped.txt"
  printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
done
echo "check: CI=true dotnet build KontinuumP2P.sln (RS0016/RS0017 must not appear)"
