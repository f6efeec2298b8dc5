# Makes sure python3 can download packages (pip) and make virtualenvs with pip in them
# (ensurepip), which the setup scripts use. Debian's own python3 ships both as separate packages
# (python3-pip, python3-venv): installs them when missing and we are root. Source this file,
# then call ensure_python.

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

ensure_python() {
  if ! command -v python3 >/dev/null; then
    apt_install python python3 python3-pip python3-venv || return 1
  fi
  local missing=()
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  [ ${#missing[@]} = 0 ] && return 0
  if [ "$(command -v python3)" != /usr/bin/python3 ]; then
    echo "python: $(command -v python3) lacks ${missing[*]#python3-} (pip, venv); install them for that Python and run this again" >&2
    return 1
  fi
  apt_install python "${missing[@]}"
}
