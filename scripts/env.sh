# Sourced by the scripts: the environment they all assume, made explicit so
# that CI (which may start with a bare environment) behaves like a shell.
: "${HOME:=$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ -d "$HOME/.cargo/bin" ] && PATH=$HOME/.cargo/bin:$PATH ;; esac
export PATH
CHPOX_CACHE_DIR=${CHPOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/chpox}
export CHPOX_CACHE_DIR
