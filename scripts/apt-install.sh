# Sourced by the scripts that install a missing tool. `apt_install NAME SERVICE PACKAGE...`
# installs Debian packages (with sudo when not root) and stops SERVICE when the package started
# a system-wide one ("" for none): the tests and benchmarks start private instances on free
# loopback ports and never use it. NAME is the calling script's name, for its error message
# on a machine without apt-get.
apt_install() {
    local name=$1 service=$2
    shift 2
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$name: apt-get is not available; install $* by hand" >&2
        return 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
        { $sudo apt-get update -q >/dev/null &&
          DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null; }
    if [ -n "$service" ] && command -v systemctl >/dev/null 2>&1 &&
        systemctl is-active --quiet "$service" 2>/dev/null; then
        $sudo systemctl stop "$service" || true
    fi
}
