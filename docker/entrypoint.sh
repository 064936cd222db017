#!/bin/sh
# keyward's container entrypoint: maps a platform's environment variables to
# keyward's flags and runs it in the foreground (exec, so signals reach it).
#
#   KEYWARD_CONFIG  a config file (TOML or redis.conf) read first; flags below
#                   override it
#   PORT            --port (default: the config's, else 6379)
#   REDIS_PASSWORD  the default user's password, read by keyward from the
#                   environment (--requirepass-env): never on a command line
#   KEYWARD_BIND    addresses to listen on (default "::", every IPv6 and,
#                   dual-stack, IPv4 address, for private networks over IPv6;
#                   "0.0.0.0" on hosts without IPv6). Without a password,
#                   protected mode answers non-loopback clients -DENIED.
#   KEYWARD_DIR     the data directory (default /data, the image's volume)
#   KEYWARD_BIN     the binary (default: keyward on the PATH)
#
# Arguments are passed on after these flags (`docker run IMAGE --maxmemory
# 1gb`); a first argument that is not an option is run instead
# (`docker run -it IMAGE sh`).
set -eu
set -f # no globbing of the words below

bin="${KEYWARD_BIN:-keyward}"
if [ "$#" -gt 0 ] && [ "$1" = "keyward" ]; then
    shift
elif [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

# Built back to front: the config file must come first.
if [ -n "${KEYWARD_CONFIG:-}" ]; then
    # The file decides bind and dir unless asked here.
    if [ -n "${KEYWARD_BIND:-}" ]; then
        set -- --bind $KEYWARD_BIND "$@"
    fi
    if [ -n "${KEYWARD_DIR:-}" ]; then
        set -- --dir "$KEYWARD_DIR" "$@"
    fi
else
    set -- --bind ${KEYWARD_BIND:-::} --dir "${KEYWARD_DIR:-/data}" "$@"
fi
if [ -n "${PORT:-}" ]; then
    set -- --port "$PORT" "$@"
fi
if [ -n "${REDIS_PASSWORD:-}" ]; then
    set -- --requirepass-env REDIS_PASSWORD "$@"
fi
if [ -n "${KEYWARD_CONFIG:-}" ]; then
    set -- "$KEYWARD_CONFIG" "$@"
fi

exec "$bin" "$@"
