#!/usr/bin/env bash
# Installs the headless browser that the s3cache browser test drives. Sourced by scripts/test.sh.
#
#   chromium_install   installs Debian's `chromium` package when the machine lacks it
#                      (apt-get update once per shell, then a non-interactive install) and prints
#                      the browser's path on stdout; progress goes to stderr.
#
# Usage:  TOLLGATE_CHROMIUM=$(chromium_install) && export TOLLGATE_CHROMIUM
#
# Nothing here talks to AWS; the browser test serves its page from 127.0.0.1.

_tg_chromium_updated=${_tg_chromium_updated:-}

_tg_chromium_path() {
	local c
	for c in chromium chromium-browser; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

chromium_install() {
	local path
	if path=$(_tg_chromium_path); then
		printf '%s\n' "$path"
		return 0
	fi
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	if [ -z "$_tg_chromium_updated" ]; then
		printf 'chromium: apt-get update\n' >&2
		$sudo apt-get update -qq >&2 || return 1
		_tg_chromium_updated=1
	fi
	printf 'chromium: apt-get install chromium\n' >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2 || return 1
	path=$(_tg_chromium_path) || {
		printf 'chromium: installed, but no chromium binary on PATH\n' >&2
		return 1
	}
	printf '%s\n' "$path"
}
