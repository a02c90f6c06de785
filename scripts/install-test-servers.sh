#!/usr/bin/env bash
# Installs the real servers the driver tests run against into .cache/bin
# (ignored by git): versitygw for S3, fake-gcs-server for GCS, Azurite for
# Azure (in .cache/azurite). Each is built or fetched once per
# version; a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/.cache/bin"
mkdir -p "$bin"

# go_tool NAME MODULE@VERSION: go install a server pinned to a version.
go_tool() {
  local name=$1 pkg=$2 stamp="$bin/.$1.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then
    return
  fi
  echo "installing $pkg"
  GOBIN="$bin" go install "$pkg"
  echo "$pkg" > "$stamp"
}

go_tool versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0
go_tool fake-gcs-server github.com/fsouza/fake-gcs-server@v1.56.1

# Azurite, from npm, into a folder of its own.
azurite_version=3.37.0
azurite_dir="$PWD/.cache/azurite"
if [ "$(cat "$azurite_dir/.version" 2>/dev/null)" != "$azurite_version" ]; then
  echo "installing azurite@$azurite_version"
  mkdir -p "$azurite_dir"
  (cd "$azurite_dir" && npm install --no-audit --no-fund --silent "azurite@$azurite_version")
  echo "$azurite_version" > "$azurite_dir/.version"
fi
