#!/usr/bin/env bash
# System packages for the keystroke handler: none. It reads JSON logs with the standard
# library and computes with numpy (requirements.txt). Idempotent: does nothing, exits 0.
set -euo pipefail
echo "keystrokes handler: no system packages needed"
