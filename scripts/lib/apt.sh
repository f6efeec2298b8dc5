# Installs Debian packages for the setup scripts, saying what and why, and explaining a failure.
# Source this file, then call: apt_install WHAT PACKAGE... (WHAT names the step, e.g. "postgres").

apt_install() {
  local what=$1
  shift
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "$what: missing $*; install them (on Debian: apt-get install $*) and run this again" >&2
    return 1
  fi
  echo "$what: installing $* from Debian packages (a minute or two)"
  local log
  log=$(mktemp /tmp/assay-apt.XXXXXX.log)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "$what: apt-get could not install $* (its output is above and in $log);" \
      "check that the Debian package mirror is reachable, then run this again" >&2
    return 1
  fi
  rm -f "$log"
}
