#!/bin/sh
# Start-up of the compose demo's sandbox container (docker-compose.yml, profile "sandbox"):
# register each worker's platform client ml-<modality> from /run/secrets/<modality>_client_secret,
# take the XQueue user from /run/secrets/xqueue_auth, then serve XQueue and the platform
# stand-in on 127.0.0.1 (ports from SANDBOX_XQUEUE_PORT / SANDBOX_PLATFORM_PORT).
set -eu
state=${SANDBOX_STATE_DIR:-/var/lib/ml-service/sandbox}
mkdir -p "$state"
for file in /run/secrets/*_client_secret; do
    [ -r "$file" ] || continue
    modality=$(basename "$file" _client_secret)
    python -m ml_service sandbox add-client "ml-$modality" --secret-file "$file" --state-dir "$state"
done
# The XQueue user goes to a config file in the sandbox's own volume, readable by it alone.
umask 077
python - "$state/sandbox.json" <<'PY'
import json, sys
from pathlib import Path
user, _, password = Path("/run/secrets/xqueue_auth").read_text().strip().partition(":")
Path(sys.argv[1]).write_text(json.dumps({"users": {user: password}}))
PY
exec python -m ml_service sandbox serve --state-dir "$state" --config "$state/sandbox.json" \
    --host 127.0.0.1 --xqueue-port "${SANDBOX_XQUEUE_PORT:-18040}" \
    --platform-port "${SANDBOX_PLATFORM_PORT:-8000}"
