#!/usr/bin/env bash
# The whole test suite: formatting, vet, staticcheck, then every test under
# the race detector. It installs and starts what the tests need itself, so
# it runs on a fresh machine with only Go. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...
# The comparison benchmark is a module of its own (see README).
go -C internal/bench vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
(cd internal/bench && go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...)

echo "== test servers"
./scripts/install-test-servers.sh

echo "== go test -race"
go test -race -count=1 -timeout 25m ./...

echo "== comparison benchmark, quick run (checks the command; figures discarded)"
quick_out=$(mktemp -d)
go -C internal/bench run . -quick -out "$quick_out"
rm -rf "$quick_out"
