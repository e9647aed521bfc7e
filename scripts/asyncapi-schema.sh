#!/usr/bin/env bash
# Idempotent: fetches the official AsyncAPI JSON Schemas (the npm package @asyncapi/specs, the
# AsyncAPI Initiative's own publication of the spec's schemas; no PyPI package ships 3.0) into
# .venv/share/asyncapi-specs/, checked against the pinned sha512 below. The test
# tests/contracts/test_asyncapi_official.py validates docs/asyncapi/*.json against it.
# Offline, it says so and the test skips with that reason. Update: change VERSION and SHA512
# (`npm view @asyncapi/specs@X dist.integrity`).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=6.11.1
SHA512=A3WBLqAKGoJ2+6FWFtpjBlCQ1oFCcs4GxF7zsIGvNqp/klGUHjlA3aAcZ9XMMpLGE8zPeYDz2x9FmO6DSuKraQ==
URL="https://registry.npmjs.org/@asyncapi/specs/-/specs-$VERSION.tgz"
DEST=.venv/share/asyncapi-specs
say() { echo "asyncapi-schema: $*"; }

if [ -f "$DEST/$VERSION/schemas/3.0.0.json" ]; then
  say "present ($DEST/$VERSION)"
  exit 0
fi
if ! .venv/bin/python - "$URL" "$SHA512" "$DEST/$VERSION" <<'PY'
import base64, hashlib, io, sys, tarfile, urllib.request
url, want, dest = sys.argv[1:4]
try:
    data = urllib.request.urlopen(url, timeout=60).read()
except OSError as exc:
    print(f"asyncapi-schema: could not fetch {url}: {exc}", file=sys.stderr)
    sys.exit(3)
got = base64.b64encode(hashlib.sha512(data).digest()).decode()
if got != want:
    print(f"asyncapi-schema: sha512 mismatch for {url}", file=sys.stderr)
    sys.exit(4)
with tarfile.open(fileobj=io.BytesIO(data)) as tar:
    members = [m for m in tar.getmembers() if m.isfile() and ".." not in m.name
               and m.name.startswith("package/schemas/")]
    for m in members:
        m.name = m.name.removeprefix("package/")
    tar.extractall(dest, members=members)  # regular files under schemas/ only
PY
then
  say "not fetched: the official-schema test will skip"
  exit 0
fi
say "fetched @asyncapi/specs $VERSION into $DEST/$VERSION"
